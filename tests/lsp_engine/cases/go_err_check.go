package files

import (
	"io"
	"os"
)

func ReadAll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {║
	defer f.Close()
	return io.ReadAll(f)
}
