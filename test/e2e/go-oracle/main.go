// Command oracle serves a directory with Go's net/http ServeContent, as http.ServeFile would, so
// that test/e2e/go-parity.ts can compare cutover's answers with Go's byte for byte.
//
// It sets the ETag that cutover derives (`"<mtime in µs, hex>-<size, hex>"`) and lets ServeContent
// pick the Content-Type from the extension (.txt and .bin are pinned to cutover's types so that
// /etc/mime.types cannot change them).
//
// Version note: Go 1.21+ answers 200 (not 416) to a Range that fails to overlap an EMPTY file.
// When built with an older Go, the oracle applies that rule itself by dropping such a Range header
// before calling ServeContent (with a newer Go this is a no-op: the outcome is the same 200).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	for ext, typ := range map[string]string{".txt": "text/plain; charset=utf-8", ".bin": "application/octet-stream"} {
		if err := mime.AddExtensionType(ext, typ); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, handler(*root)))
}

func handler(root string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean("/" + r.URL.Path)
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		us := (st.ModTime().UnixNano() + 500) / 1000
		w.Header().Set("Etag", `"`+strconv.FormatInt(us, 16)+"-"+strconv.FormatInt(st.Size(), 16)+`"`)
		if st.Size() == 0 && r.Header.Get("Range") != "" {
			// Go 1.21+ answers 200 to a Range that fails to overlap an empty file; Debian's Go 1.19
			// answers 416 "bytes */0". Ask this Go what it would say and apply the newer rule.
			rec := httptest.NewRecorder()
			for k, v := range w.Header() {
				rec.Header()[k] = v // the ETag decides If-Range
			}
			http.ServeContent(rec, r, st.Name(), st.ModTime(), f)
			if rec.Code == http.StatusRequestedRangeNotSatisfiable && rec.Header().Get("Content-Range") == "bytes */0" {
				r.Header.Del("Range")
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				http.Error(w, "seek failed", http.StatusInternalServerError)
				return
			}
		}
		http.ServeContent(w, r, st.Name(), st.ModTime(), f)
	})
}
