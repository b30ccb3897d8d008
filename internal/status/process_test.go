package status

import (
	"os"
	"testing"
)

func TestReadProcessSeesNewFiles(t *testing.T) {
	before := ReadProcess()
	if before.Goroutines < 1 || before.RSSBytes <= 0 || before.OpenFiles < 3 {
		t.Fatalf("implausible %+v", before)
	}
	var files []*os.File
	for range 5 {
		f, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	after := ReadProcess()
	for _, f := range files {
		f.Close()
	}
	if after.OpenFiles != before.OpenFiles+5 {
		t.Fatalf("open files %d after opening 5 more than %d", after.OpenFiles, before.OpenFiles)
	}
}
