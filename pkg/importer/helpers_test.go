package importer

import (
	"errors"
	"net/netip"
)

type netipAddr = netip.Addr

var parseAddr = netip.ParseAddr

func errorsIs(err, target error) bool { return errors.Is(err, target) }
