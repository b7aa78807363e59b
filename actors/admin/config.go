package admin

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// LiveConfig is the broker's configuration as GET_BROKER_CONFIG and
// UPDATE_BROKER_CONFIG see it (RocketMQ's Configuration). The supervisor
// implements it: it owns the values and the components that read them.
type LiveConfig interface {
	// Properties is every key with its current value, in the order to
	// print them, and the configuration's DataVersion as JSON.
	Properties() (keys, values []string, version string)
	// Update applies every key of props or none: a key that cannot change
	// while the broker runs, or a malformed value, is an error naming it.
	Update(props map[string]string) error
}

// getBrokerConfig is GET_BROKER_CONFIG (26): a properties text, one
// key=value a line (MixAll.properties2String), and the version in the
// response header.
func (b *BrokerHandlers) getBrokerConfig(r *actors.Request) {
	if b.Config == nil {
		r.ReplyCode(remoting.SystemError, "broker configuration not available")
		return
	}
	keys, values, version := b.Config.Properties()
	var sb strings.Builder
	for i, k := range keys {
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(values[i])
		sb.WriteByte('\n')
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.SetExt("version", version)
	resp.Body = []byte(sb.String())
	r.Reply(resp)
}

// updateBrokerConfig is UPDATE_BROKER_CONFIG (25): the body is a
// properties text. Unlike RocketMQ, which merges the keys it knows into its
// config objects whether or not the running broker rereads them (and
// ignores the rest), every key must be one Sluice applies at run time;
// anything else is refused with its name, and nothing is changed.
func (b *BrokerHandlers) updateBrokerConfig(r *actors.Request) {
	if b.Config == nil {
		r.ReplyCode(remoting.SystemError, "broker configuration not available")
		return
	}
	props := ParseProperties(r.Cmd.Body)
	if len(props) == 0 {
		r.ReplyCode(remoting.SystemError, "string2Properties error: no key=value in the body")
		return
	}
	if err := b.Config.Update(props); err != nil {
		b.Log.Warn().Err(err).Str("from", r.RemoteAddr()).Msg("updateBrokerConfig refused")
		r.ReplyCode(remoting.NoPermission, err.Error())
		return
	}
	b.Log.Info().Interface("config", props).Str("from", r.RemoteAddr()).Msg("updateBrokerConfig applied")
	r.ReplyCode(remoting.Success, "")
}

// ParseProperties reads a java.util.Properties text as
// MixAll.string2Properties does (Properties#load): '#' and '!' start
// comments, the key ends at the first unescaped '=', ':' or blank, and a
// line ending in a backslash continues on the next one. Escapes other
// than line continuation are kept as written.
func ParseProperties(body []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var pending string
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending += line[:len(line)-1]
			continue
		}
		line, pending = pending+line, ""
		k, v := splitProperty(line)
		if k != "" {
			out[k] = v
		}
	}
	if pending != "" {
		if k, v := splitProperty(pending); k != "" {
			out[k] = v
		}
	}
	return out
}

func splitProperty(line string) (string, string) {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '=', ':', ' ', '\t', '\f':
			k := line[:i]
			rest := strings.TrimLeft(line[i:], " \t\f")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f') {
				rest = rest[1:]
			} else if line[i] == '=' || line[i] == ':' {
				rest = line[i+1:]
			}
			return k, strings.TrimLeft(rest, " \t\f")
		}
	}
	return line, ""
}
