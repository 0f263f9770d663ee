// Reference server for the cutover benchmark: serves a directory with
// http.ServeContent (open + stat per request), standard library only.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	absRoot, err := filepath.Abs(*root)
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		clean := path.Clean("/" + r.URL.Path)
		if strings.Contains(clean, "\x00") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		name := filepath.Join(absRoot, filepath.FromSlash(clean))
		f, err := os.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, st.Name(), st.ModTime(), f)
	})

	srv := &http.Server{Addr: *listen, Handler: handler}
	log.Printf("go reference server listening on %s, root %s", *listen, absRoot)
	log.Fatal(srv.ListenAndServe())
}
