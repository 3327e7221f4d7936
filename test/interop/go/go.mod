module bastionless/interop/smuxpeer

go 1.19

require github.com/xtaci/smux v1.5.16

// Debian's golang-github-xtaci-smux-dev installs the library source here, so the peer
// builds offline without the module proxy.
replace github.com/xtaci/smux => /usr/share/gocode/src/github.com/xtaci/smux
