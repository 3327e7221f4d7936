// smux-peer is an smux v1 server on a TCP socket on 127.0.0.1, used to test the
// TypeScript smux client against the real github.com/xtaci/smux library.
//
// It prints "listening HOST:PORT" once, accepts TCP connections and runs one smux
// server session on each. The first line of every stream picks what the server does:
//
//	echo          copy every byte back until the client closes the stream
//	send N        write N bytes where byte i is (i*31 + stream id) mod 256, then close
//	sink          read until the client closes, then print "sink ID BYTES SHA256HEX"
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xtaci/smux"
)

var stdout sync.Mutex

func printLine(format string, args ...interface{}) {
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Printf(format+"\n", args...)
}

func main() {
	keepAlive := flag.Bool("keepalive", false, "enable smux keepalive (NOP every 10 s, 30 s timeout)")
	flag.Parse()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen on 127.0.0.1 failed: %v\n", err)
		os.Exit(1)
	}
	printLine("listening %s", listener.Addr())

	config := smux.DefaultConfig()
	config.Version = 1
	config.KeepAliveDisabled = !*keepAlive
	if *keepAlive {
		config.KeepAliveInterval = 10 * time.Second
		config.KeepAliveTimeout = 30 * time.Second
	}

	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "accept failed: %v\n", err)
			os.Exit(1)
		}
		go serveSession(conn, config)
	}
}

func serveSession(conn net.Conn, config *smux.Config) {
	session, err := smux.Server(conn, config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "smux server failed: %v\n", err)
		conn.Close()
		return
	}
	for {
		stream, err := session.AcceptStream()
		if err != nil {
			printLine("session-closed %v", err)
			return
		}
		go serveStream(stream)
	}
}

// readerOnly hides the WriteTo method of what it wraps. smux 1.5.16's Stream.WriteTo
// returns io.EOF at the end of the stream, and io.Copy would report that as a failure.
type readerOnly struct{ io.Reader }

func serveStream(stream *smux.Stream) {
	defer stream.Close()
	reader := bufio.NewReader(readerOnly{stream})
	line, err := reader.ReadString('\n')
	if err != nil {
		printLine("stream-error %d %v", stream.ID(), err)
		return
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		printLine("stream-error %d empty command line", stream.ID())
		return
	}
	switch fields[0] {
	case "echo":
		// Hand on what bufio already read past the command line, then copy the rest.
		if _, err := io.Copy(stream, readerOnly{reader}); err != nil {
			printLine("stream-error %d %v", stream.ID(), err)
		}
	case "send":
		count, err := strconv.Atoi(fields[len(fields)-1])
		if len(fields) != 2 || err != nil || count < 0 {
			printLine("stream-error %d invalid send count %q", stream.ID(), line)
			return
		}
		data := make([]byte, count)
		for i := range data {
			data[i] = byte(i*31 + int(stream.ID()))
		}
		if _, err := stream.Write(data); err != nil {
			printLine("stream-error %d %v", stream.ID(), err)
		}
	case "sink":
		digest := sha256.New()
		count, err := io.Copy(digest, readerOnly{reader})
		if err != nil {
			printLine("stream-error %d %v", stream.ID(), err)
			return
		}
		printLine("sink %d %d %s", stream.ID(), count, hex.EncodeToString(digest.Sum(nil)))
	default:
		printLine("stream-error %d unknown command %q", stream.ID(), fields[0])
	}
}
