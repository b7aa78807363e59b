package metadata

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

func TestConsumerOffsetCommitQuery(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if off, ok := m.QueryOffset("cg", "T", 0); ok || off != -1 {
		t.Fatalf("empty table: %d %v", off, ok)
	}
	m.CommitOffset("cg", "T", 0, 250)
	m.CommitOffset("cg", "T", 1, 248)
	m.CommitOffset("cg", "T", 1, 100) // smaller: logged, stored anyway (Java)
	m.CommitOffset("cg", "%RETRY%cg", 0, 0)
	m.CommitOffset("other", "T", 0, 7)
	if off, ok := m.QueryOffset("cg", "T", 1); !ok || off != 100 {
		t.Fatalf("T/1 = %d %v", off, ok)
	}
	if off, ok := m.QueryOffset("cg", "%RETRY%cg", 0); !ok || off != 0 {
		t.Fatalf("offset 0 must be found: %d %v", off, ok)
	}
	if got := m.QueryOffsets("cg", "T"); !reflect.DeepEqual(got, map[int32]int64{0: 250, 1: 100}) {
		t.Fatalf("QueryOffsets %v", got)
	}
	want := []QueueOffset{{"%RETRY%cg", 0, 0}, {"T", 0, 250}, {"T", 1, 100}}
	if got := m.GroupProgress("cg"); !reflect.DeepEqual(got, want) {
		t.Fatalf("GroupProgress %v", got)
	}
	if got := m.Groups(); !reflect.DeepEqual(got, []string{"cg", "other"}) {
		t.Fatalf("Groups %v", got)
	}
	if got := m.Topics(); !reflect.DeepEqual(got, []string{"%RETRY%cg", "T"}) {
		t.Fatalf("Topics %v", got)
	}
	if got := m.WhichGroupByTopic("T"); !reflect.DeepEqual(got, []string{"cg", "other"}) {
		t.Fatalf("WhichGroupByTopic %v", got)
	}
	if got := m.WhichTopicByConsumer("other"); !reflect.DeepEqual(got, []string{"T"}) {
		t.Fatalf("WhichTopicByConsumer %v", got)
	}
	if n := m.RemoveTopic("T"); n != 2 {
		t.Fatalf("RemoveTopic removed %d", n)
	}
	if _, ok := m.QueryOffset("other", "T", 0); ok {
		t.Fatal("offset survived RemoveTopic")
	}
	if n := m.RemoveGroup("cg"); n != 1 || len(m.Groups()) != 0 {
		t.Fatalf("RemoveGroup removed %d, left %v", n, m.Groups())
	}
}

// ConsumeManageProcessor#queryConsumerOffset: no committed offset → 0 for a young queue, else QUERY_NOT_FOUND.
func TestQueryConsumerOffsetYoungQueue(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m, _ := NewConsumerOffsetManager(cfg)
	probe := func(min int64, inDisk bool) QueueProbe {
		return QueueProbe{
			MinOffsetInQueue:           func(string, int32) int64 { return min },
			CheckInDiskByConsumeOffset: func(_ string, _ int32, off int64) bool { return inDisk },
		}
	}
	cases := []struct {
		name   string
		probe  QueueProbe
		want   int64
		wantOK bool
		commit bool
	}{
		{name: "young queue", probe: probe(0, false), want: 0, wantOK: true},
		{name: "first message only on disk", probe: probe(0, true), want: -1},
		{name: "head already deleted", probe: probe(100, false), want: -1},
		{name: "no store answers", probe: QueueProbe{}, want: -1},
		{name: "committed wins", probe: probe(0, false), commit: true, want: 42, wantOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.commit {
				m.CommitOffset("g2", "T", 3, 42)
			}
			g := "g"
			if tc.commit {
				g = "g2"
			}
			off, ok := m.QueryConsumerOffset(g, "T", 3, tc.probe)
			if off != tc.want || ok != tc.wantOK {
				t.Fatalf("got %d %v want %d %v", off, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestConsumerOffsetPersistence(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	m, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.CommitOffset("cg", "T", 0, 250)
	m.CommitOffset("cg", "T", 12, 3)
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "consumerOffset.json"))
	if !strings.Contains(string(data), `"offsetTable"`) || !strings.Contains(string(data), `"12": 3`) {
		t.Fatalf("file %s", data)
	}
	m2, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.QueryOffsets("cg", "T"); !reflect.DeepEqual(got, map[int32]int64{0: 250, 12: 3}) {
		t.Fatalf("reloaded %v", got)
	}

	// Unchanged since the load: no write (the file keeps its mtime).
	old := time.Unix(1, 0)
	p := filepath.Join(dir, "consumerOffset.json")
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if err := m2.Persist(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); !st.ModTime().Equal(old) {
		t.Fatal("unchanged table rewritten")
	}
	m2.CommitOffset("cg", "T", 0, 251)
	if err := m2.Persist(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.ModTime().Equal(old) {
		t.Fatal("changed table not written")
	}
}

// consumerOffset.json as a Java broker writes it: fastjson, pretty, tabs,
// unquoted integer queue ids, J5's dataVersion.
func TestLoadJavaConsumerOffsetJSON(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "consumerOffset.json"),
		"{\n\t\"dataVersion\":{\"counter\":1,\"timestamp\":1},\n\t\"offsetTable\":{\n"+
			"\t\t\"TestTopic@cg\":{0:250,1:248\n\t\t},\n\t\t\"%RETRY%cg@cg\":{0:0}\n\t}\n}")
	cfg, _ := testConfig(t, dir)
	m, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.QueryOffsets("cg", "TestTopic"); !reflect.DeepEqual(got, map[int32]int64{0: 250, 1: 248}) {
		t.Fatalf("TestTopic %v", got)
	}
	if off, ok := m.QueryOffset("cg", "%RETRY%cg", 0); !ok || off != 0 {
		t.Fatalf("retry %d %v", off, ok)
	}
	// The original is kept as the backup on the first rewrite; we write
	// standard JSON.
	m.CommitOffset("cg", "TestTopic", 0, 300)
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "consumerOffset.json"))
	bak, _ := os.ReadFile(filepath.Join(dir, "consumerOffset.json.bak"))
	if !strings.Contains(string(data), `"0": 300`) || !strings.Contains(string(bak), "{0:250") {
		t.Fatalf("file %s\nbak %s", data, bak)
	}
}

func TestConsumerOffsetBackupRepairsMainFile(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "consumerOffset.json"), `{"offsetTable":{"T@g":{0:`)
	mustWrite(t, filepath.Join(dir, "consumerOffset.json.bak"), `{"offsetTable":{"T@g":{0:5}}}`)
	cfg, _ := testConfig(t, dir)
	m, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := m.QueryOffset("g", "T", 0); off != 5 {
		t.Fatalf("offset %d", off)
	}
	if err := m.Persist(); err != nil { // nothing changed, but the main file is bad
		t.Fatal(err)
	}
	if _, src, err := LoadJSON[consumerOffsetWrapper](filepath.Join(dir, "consumerOffset.json"), cfg.Log); err != nil || src != LoadedFile {
		t.Fatalf("main file not repaired: %v %v", src, err)
	}
}

func TestStartPersister(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	m, _ := NewConsumerOffsetManager(cfg)
	stop := m.StartPersister(5 * time.Millisecond)
	m.CommitOffset("g", "T", 0, 1)
	poll.Until(t, "the persister's first write", func() bool {
		w, _, _ := LoadJSON[consumerOffsetWrapper](filepath.Join(dir, "consumerOffset.json"), cfg.Log)
		return w.OffsetTable["T@g"][0] == 1
	})
	m.CommitOffset("g", "T", 0, 2)
	stop() // final write
	stop() // idempotent
	w, _, _ := LoadJSON[consumerOffsetWrapper](filepath.Join(dir, "consumerOffset.json"), cfg.Log)
	if w.OffsetTable["T@g"][0] != 2 {
		t.Fatalf("stop did not persist: %v", w.OffsetTable)
	}
}
