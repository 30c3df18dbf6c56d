package events

import (
	"reflect"
	"testing"
)

// FuzzDecodeInPlace: decoding the payload as it is read gives what reading
// the envelope first and the payload after gives: the same event, or the
// same error.
func FuzzDecodeInPlace(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"FileScanned","id":"01J00000000000000000000000","machine":"m","scan":"01J00000000000000000000001","time":"2026-11-22T02:49:50Z","data":{"path":"/a/b","size":7,"mode":420,"hashes":{"sha256":"ab"}}}`,
		`{"data":{"path":"/a"},"v":1,"type":"FileDeleted","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z"}`,
		`{"v":1,"type":"FileMoved","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z","data":{"from":{"b64":"/w=="},"path":"/b"},"type":"FileDeleted"}`,
		`{"v":1,"type":"FileScanned","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z","data":{"size":"x"},"v":2}`,
		`{"v":1,"type":"ScanCompleted","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z","data":{"root":"/","complete":true,"counts":{"seen":3}},"data":{"root":"/x"}}`,
		`{"v":1,"type":"FileChanged","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z","data" : {"path":"/a\u00e9","reason":"size"} }`,
		`{"v":1,"type":"Nope","id":"01J00000000000000000000000","machine":"m","time":"2026-11-22T02:49:50Z","data":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e1, err1 := decode(b, true)
		e2, err2 := decode(b, false)
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("in place: %v\ntwo passes: %v", err1, err2)
		}
		if !reflect.DeepEqual(e1, e2) {
			t.Fatalf("in place: %#v\ntwo passes: %#v", e1, e2)
		}
	})
}
