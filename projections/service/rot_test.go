package service_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// TestRot lists the files whose last verify found bit rot and that hold
// that content still: a restored file leaves the list, a deleted one too,
// a moved one takes its rot along; the NATS service gives the same list.
func TestRot(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	evs := servicetest.Fixture()
	s := servicetest.NewScan("laptop", "/home/ana", time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC))
	rotten := func(path string, size int64, content string) (events.File, string) {
		f := s.File(path, size, content)
		good := f.Hashes.SHA256
		f.Hashes = servicetest.Hashes(content + " with a flipped bit")
		s.Changed(f, good, events.ReasonBitRot)
		return f, good
	}
	_, notesGood := rotten(servicetest.NotesPath, 1500, "notes v2")
	song, _ := rotten("/home/ana/music/song.flac", 5*servicetest.MiB, "song")
	restored := song
	restored.Hashes = servicetest.Hashes("song")
	s.Changed(restored, song.Hashes.SHA256, events.ReasonContent)
	photo, photoGood := rotten(servicetest.PhotoPath, 2*servicetest.MiB, "photo")
	photo.Path = "/home/ana/photos/IMG_0001-moved.jpg"
	s.Moved(servicetest.PhotoPath, photo)
	rotten(servicetest.ReportCopy, 3*servicetest.MiB, "report")
	s.Deleted(servicetest.ReportCopy, "")
	env.Publish(t, append(evs, s.Complete(events.ScanCounts{Seen: 5})...)...)
	svc, err := service.Serve(env.Log, env.Local, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })

	ctx := context.Background()
	got, err := env.Local.Rot(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range got {
		paths = append(paths, r.Machine+":"+string(r.Path))
	}
	if want := []string{"laptop:" + servicetest.NotesPath, "laptop:/home/ana/photos/IMG_0001-moved.jpg"}; !reflect.DeepEqual(paths, want) {
		t.Fatalf("rot = %q, want %q", paths, want)
	}
	if got[0].Recorded != notesGood || got[0].Read != servicetest.Hashes("notes v2 with a flipped bit").SHA256 || got[1].Recorded != photoGood || got[0].Seq == 0 || got[0].Detected.IsZero() {
		t.Fatalf("rot = %+v", got)
	}
	remote, err := (&service.Client{Log: env.Log}).Rot(ctx, "")
	if err != nil || !reflect.DeepEqual(remote, got) {
		t.Fatalf("over NATS: %+v, %v; want %+v", remote, err, got)
	}
	if other, err := env.Local.Rot(ctx, "nas1"); err != nil || len(other) != 0 {
		t.Fatalf("rot of nas1 = %+v, %v", other, err)
	}
}
