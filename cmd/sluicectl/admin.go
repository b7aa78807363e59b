package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// admin is one connection to a broker or name server, for a command's
// handful of calls.
type admin struct {
	role    string // "broker" or "name server", for messages
	addr    string
	timeout time.Duration
	client  *remoting.Client
}

// dialAdmin connects to addr. Failing to connect is the commonest error
// there is, so it gets the plainest message: what could not be reached, and
// the operating system's reason.
// tf is the TLS flags; creds, when not nil, sign every request (a broker
// or name server with aclEnable=true).
func dialAdmin(ctx context.Context, role, addr string, timeout time.Duration, tf *tlshelper.ClientFlags, creds *remoting.Credentials) (*admin, error) {
	tlsConf, err := tf.Config()
	if err != nil {
		return nil, usagef("%v", err)
	}
	c, err := remoting.Dial(ctx, addr, remoting.ClientOptions{DialTimeout: timeout, TLS: tlsConf, Credentials: creds})
	if err != nil {
		return nil, fmt.Errorf("%s %s not reachable: %w", role, addr, dialCause(err))
	}
	return &admin{role: role, addr: addr, timeout: timeout, client: c}, nil
}

// dialCause strips the layers of "dial …: dial tcp …:" that repeat the
// address the message already names.
func dialCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func (a *admin) Close() error { return a.client.Close() }

// errUnsupported marks a REQUEST_CODE_NOT_SUPPORTED answer: a broker that
// predates the admin code (or a RocketMQ broker asked for a Sluice one).
var errUnsupported = errors.New("request code not supported")

// answerError is a non-success answer with its code and remark.
type answerError struct {
	role, addr string
	req        remoting.RequestCode
	code       remoting.ResponseCode
	remark     string
}

func (e *answerError) Error() string {
	if e.code == remoting.RequestCodeNotSupported {
		return fmt.Sprintf("%s %s does not support %s (request code %d): %s",
			e.role, e.addr, e.req, int(e.req), e.remark)
	}
	return fmt.Sprintf("%s on %s %s: %s: %s", e.req, e.role, e.addr, e.code, e.remark)
}

func (e *answerError) Is(target error) bool {
	return target == errUnsupported && e.code == remoting.RequestCodeNotSupported
}

// invoke sends one request and returns the answer whatever its code.
func (a *admin) invoke(ctx context.Context, code remoting.RequestCode, ext map[string]string, body []byte) (*remoting.Command, error) {
	resp, err := a.client.Invoke(ctx, remoting.NewRequest(code, ext, body), a.timeout)
	if err != nil {
		switch {
		case errors.Is(err, remoting.ErrTimeout):
			return nil, fmt.Errorf("%s %s did not answer %s within %s", a.role, a.addr, code, a.timeout)
		case errors.Is(err, remoting.ErrClosed):
			return nil, fmt.Errorf("%s %s closed the connection during %s", a.role, a.addr, code)
		}
		return nil, fmt.Errorf("%s on %s %s: %w", code, a.role, a.addr, err)
	}
	return resp, nil
}

// call is invoke for requests that must succeed: any other code becomes an
// answerError.
func (a *admin) call(ctx context.Context, code remoting.RequestCode, ext map[string]string, body []byte) (*remoting.Command, error) {
	resp, err := a.invoke(ctx, code, ext, body)
	if err != nil {
		return nil, err
	}
	if resp.ResponseCode() != remoting.Success {
		return nil, a.answerErr(code, resp)
	}
	return resp, nil
}

func (a *admin) answerErr(code remoting.RequestCode, resp *remoting.Command) error {
	return &answerError{role: a.role, addr: a.addr, req: code, code: resp.ResponseCode(), remark: resp.Remark}
}

// withBroker dials the broker named by f, runs fn and closes the
// connection.
func withBroker(ctx context.Context, f *brokerFlags, fn func(*admin) error) error {
	a, err := dialAdmin(ctx, "broker", f.addr, f.timeout, &f.tls, f.credentials())
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
