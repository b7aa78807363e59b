package brokerconf

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestParsePropertiesSyntax(t *testing.T) {
	in := "# comment\n! also comment\n\n  a = 1\nb=2\nc: 3\nd 4\ne = spaced value  \nf = multi\\\n  line\ng=\n"
	props, err := ParseProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "spaced value", "f": "multiline", "g": ""}
	if len(props) != len(want) {
		t.Fatalf("got %d properties: %+v", len(props), props)
	}
	for _, p := range props {
		if want[p.Key] != p.Value {
			t.Errorf("%s = %q, want %q", p.Key, p.Value, want[p.Key])
		}
	}
	if props[0].Line != 4 {
		t.Errorf("line of a = %d, want 4", props[0].Line)
	}
}

func TestLoadSampleConf(t *testing.T) {
	cfg := Default()
	warnings, err := cfg.LoadFile("../../../testdata/broker.conf")
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker
	if b.BrokerName != "broker-a" || b.ListenPort != 10921 || b.SendThreadPoolQueueCapacity != 500 || b.BrokerFastFailurePeriodMillis != 20 {
		t.Fatalf("values not applied: %+v", b)
	}
	// Defaults survive for keys the file does not set.
	if b.PullThreadPoolQueueCapacity != 100000 || b.WaitTimeMillsInSendQueue != 200 || b.BindAddress != "127.0.0.1" {
		t.Fatalf("defaults lost: %+v", b)
	}
	for _, w := range warnings {
		if w.Key == "listenPort" || w.Key == "brokerName" {
			t.Fatalf("known key warned about: %v", w)
		}
	}
}

func TestUnknownKeyIsAWarning(t *testing.T) {
	cfg := Default()
	warnings, err := cfg.Load(strings.NewReader("listenPort=1\nnoSuchKey=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Key != "noSuchKey" || warnings[0].Line != 2 {
		t.Fatalf("warnings = %v", warnings)
	}
}

func TestMalformedValueNamesKeyAndValue(t *testing.T) {
	for _, in := range []string{"listenPort=ten", "brokerFastFailureEnable=yes", "sendThreadPoolQueueCapacity=-1", "listenPort=70000"} {
		cfg := Default()
		_, err := cfg.Load(strings.NewReader(in))
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		key, value, _ := strings.Cut(in, "=")
		if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), value) {
			t.Fatalf("%s: error %q does not name the key and the value", in, err)
		}
	}
}

func TestPrintRoundTrips(t *testing.T) {
	cfg := Default()
	if err := cfg.Set("namesrvAddr", "127.0.0.1:9876;127.0.0.1:9877"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cfg.Print(&out); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	if !strings.Contains(out.String(), "namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\n") || !strings.Contains(out.String(), "listenPort=10911\n") {
		t.Fatalf("print:\n%s", out.String())
	}
	again := Default()
	warnings, err := again.Load(&out)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("reloading printed config: %v %v", warnings, err)
	}
	var reprinted bytes.Buffer
	if err := again.Print(&reprinted); err != nil {
		t.Fatal(err)
	}
	if reprinted.String() != printed {
		t.Fatalf("round trip changed the config:\n%s\n%s", printed, reprinted.String())
	}
}

func TestMissingFile(t *testing.T) {
	cfg := Default()
	if _, err := cfg.LoadFile("/nonexistent/broker.conf"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		next := u.Unwrap()
		if next == nil {
			return err
		}
		err = next
	}
}

// A key whose feature Sluice lacks makes Load fail, naming the key, when
// its value asks for the feature; its "off" value is accepted silently.
func TestUnhonouredKeysRefuseToStart(t *testing.T) {
	for _, line := range []string{
		"tlsEnable=true",
		"enableDLegerCommitLog=true", "enableControllerMode=true", "enablePropertyFilter=true",
	} {
		cfg := Default()
		_, err := cfg.Load(strings.NewReader(line + "\n"))
		key, _, _ := strings.Cut(line, "=")
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "refusing to start") {
			t.Errorf("%s: err = %v, want a refusal naming %s", line, err, key)
		}
	}
	for _, line := range []string{
		"brokerRole=ASYNC_MASTER", "brokerId=0", "aclEnable=false", "tlsEnable=false", "tls.server.mode=disabled",
		"enablePropertyFilter=false", "haMasterAddress=",
	} {
		cfg := Default()
		warnings, err := cfg.Load(strings.NewReader(line + "\n"))
		if err != nil || len(warnings) != 0 {
			t.Errorf("%s: err = %v, warnings %v; want it accepted quietly", line, err, warnings)
		}
	}
}

// The store's keys reach the store's config (RocketMQ's MessageStoreConfig
// names, warmMapedFileEnable's spelling included).
func TestStoreKeys(t *testing.T) {
	cfg := Default()
	in := "flushDiskType=SYNC_FLUSH\nmappedFileSizeCommitLog=1048576\ntransientStorePoolEnable=true\n" +
		"recoverSkipCorruptedFiles=true\ndeleteWhen=04;16\nosPageCacheBusyTimeOutMills=2000\n" +
		"warmMapedFileEnable=true\nflushLeastPagesWhenWarmMapedFile=1024\n"
	warnings, err := cfg.Load(strings.NewReader(in))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	s := cfg.Broker.Store
	if s.FlushDiskType.String() != "SYNC_FLUSH" || s.MappedFileSizeCommitLog != 1<<20 || !s.TransientStorePoolEnable ||
		!s.SkipCorruptedFiles || s.DeleteWhen != "04;16" || s.OSPageCacheBusyTimeOutMills != 2000 ||
		!s.WarmMapedFileEnable || s.FlushLeastPagesWhenWarmMapedFile != 1024 {
		t.Fatalf("store config %+v", s)
	}
	bad := Default()
	if _, err := bad.Load(strings.NewReader("flushDiskType=SOMETIMES\n")); err == nil {
		t.Fatal("bad flushDiskType accepted")
	}
}

// aclEnable is honoured now: it and the ACL keys load.
func TestACLKeysLoad(t *testing.T) {
	cfg := Default()
	in := "aclEnable=true\nrocketmqHome=/opt/rmq\naclPlainFile=conf/acl.yml\naclFileWatchIntervalMillis=100\n" +
		"brokerAccessKey=brokerAK1\nbrokerSecretKey=brokerSK1\nmetricsPromExporterBearerToken=tok\n"
	if w, err := cfg.Load(strings.NewReader(in)); err != nil || len(w) != 0 {
		t.Fatalf("Load: %v, warnings %v", err, w)
	}
	b := cfg.Broker
	if !b.AclEnable || b.RocketmqHome != "/opt/rmq" || b.AclPlainFile != "conf/acl.yml" || b.AclFileWatchIntervalMillis != 100 ||
		b.BrokerAccessKey != "brokerAK1" || b.BrokerSecretKey != "brokerSK1" || b.MetricsPromExporterBearerToken != "tok" {
		t.Fatalf("config = %+v", b)
	}
	var out strings.Builder
	if err := cfg.Print(&out); err != nil || strings.Contains(out.String(), "brokerSK1") || strings.Contains(out.String(), "=tok\n") ||
		!strings.Contains(out.String(), "brokerSecretKey=******\n") || !strings.Contains(out.String(), "aclEnable=true\n") {
		t.Fatalf("Print: %v\n%s", err, out.String())
	}
	cfg = Default()
	if _, err := cfg.Load(strings.NewReader("brokerAccessKey=onlyOne\n")); err == nil {
		t.Fatal("brokerAccessKey without brokerSecretKey loaded")
	}
}

// The timer keys reach the broker's configuration with RocketMQ's names
// and defaults; timerWheelEnable is honoured either way.
func TestTimerKeys(t *testing.T) {
	cfg := Default()
	b := cfg.Broker
	if !b.TimerWheelEnable || b.TimerMaxDelaySec != 259200 || b.TimerPrecisionMs != 1000 || b.TimerRollWindowSlot != 172800 ||
		b.TimerFlushIntervalMs != 1000 || b.MappedFileSizeTimerLog != 100<<20 {
		t.Fatalf("defaults: %+v", b)
	}
	warnings, err := cfg.Load(strings.NewReader("timerWheelEnable=false\ntimerMaxDelaySec=60\ntimerPrecisionMs=100\ntimerRollWindowSlot=3600\ntimerFlushIntervalMs=500\nmappedFileSizeTimerLog=1048576\n"))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	b = cfg.Broker
	if b.TimerWheelEnable || b.TimerMaxDelaySec != 60 || b.TimerPrecisionMs != 100 || b.TimerRollWindowSlot != 3600 ||
		b.TimerFlushIntervalMs != 500 || b.MappedFileSizeTimerLog != 1<<20 {
		t.Fatalf("loaded: %+v", b)
	}
}

// brokerRole, brokerId and the slave keys: a SLAVE needs brokerId > 0 and
// a master brokerId 0, as RocketMQ's start checks.
func TestBrokerRoleKeys(t *testing.T) {
	cfg := Default()
	in := "brokerRole=SLAVE\nbrokerId=1\nslaveReadEnable=true\naccessMessageInMemoryMaxRatio=30\nslaveSyncIntervalMillis=500\n"
	if warnings, err := cfg.Load(strings.NewReader(in)); err != nil || len(warnings) != 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	b := cfg.Broker
	if !b.IsSlave() || b.BrokerID != 1 || !b.SlaveReadEnable || b.AccessMessageInMemoryMaxRatio != 30 || b.SlaveSyncIntervalMillis != 500 {
		t.Fatalf("config %+v", b)
	}
	if d := Default().Broker; d.BrokerRole != "ASYNC_MASTER" || d.SlaveReadEnable || d.AccessMessageInMemoryMaxRatio != 40 {
		t.Fatalf("defaults: role %q slaveReadEnable %v ratio %d", d.BrokerRole, d.SlaveReadEnable, d.AccessMessageInMemoryMaxRatio)
	}
	for _, in := range []string{"brokerRole=SLAVE\n", "brokerRole=SLAVE\nbrokerId=0\n", "brokerId=1\n",
		"brokerRole=ASYNC_MASTER\nbrokerId=2\n", "brokerRole=MASTER\n", "accessMessageInMemoryMaxRatio=101\n"} {
		cfg := Default()
		if _, err := cfg.Load(strings.NewReader(in)); err == nil {
			t.Errorf("%q: loaded, want an error", in)
		}
	}
}

// gcHeadroomMB (ours) defaults to DefaultGCHeadroomMB, is printed, takes 0
// (off) and refuses a negative value.
func TestGCHeadroomKey(t *testing.T) {
	cfg := Default()
	if cfg.GCHeadroomMB != DefaultGCHeadroomMB {
		t.Fatalf("default gcHeadroomMB %d, want %d", cfg.GCHeadroomMB, DefaultGCHeadroomMB)
	}
	var out bytes.Buffer
	if err := cfg.Print(&out); err != nil || !strings.Contains(out.String(), "\ngcHeadroomMB=32\n") {
		t.Fatalf("Print: %v\n%s", err, out.String())
	}
	if _, err := cfg.Load(strings.NewReader("gcHeadroomMB=0\n")); err != nil || cfg.GCHeadroomMB != 0 {
		t.Fatalf("gcHeadroomMB=0: %v, got %d", err, cfg.GCHeadroomMB)
	}
	bad := Default()
	if _, err := bad.Load(strings.NewReader("gcHeadroomMB=-1\n")); err == nil || !strings.Contains(err.Error(), "gcHeadroomMB") {
		t.Fatalf("gcHeadroomMB=-1: %v, want an error naming the key", err)
	}
}
