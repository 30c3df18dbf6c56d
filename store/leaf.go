package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/indexer/indexer/events"
)

// Offline machines. A laptop keeps its own data directory, embedded server
// and log, as any standalone machine does, so it scans and answers queries
// with no network. Its server is also a NATS leaf node of the hub (the
// machine running indexer-project with a leaf listener), in a JetStream
// domain named after the machine. The hub's stream sources each laptop's
// stream through that domain, filtered on the laptop's own subjects.
// JetStream's sourcing remembers the last source sequence it stored, so
// every event reaches the hub once, in the laptop's order, however often
// the link comes and goes; the events' ids are kept (Nats-Msg-Id).
//
// The leaf connection carries no events directly: idx.> is denied both
// ways on the laptop's side (else an event published while connected would
// also be captured by the hub's stream on idx.>, and stored twice once
// sourcing lagged past the deduplication window), and the hub allows the
// laptop's credential only the traffic of its own source (RoleLeaf).

// RoleLeaf is the credential of a laptop's embedded server connecting to
// the hub as a leaf node. Over that connection it may only answer the hub's
// source consumer for its own machine: deliver idx.<machine>.> events of
// its own stream to the hub's stream, and the replies and flow control that
// go with it. It may not publish any subject the hub stores, call the
// hub's JetStream API (delete, purge, update a stream), read the hub's
// events, or ask the query service. It is refused as a client connection,
// and a scanner's or reader's credential is refused as a leaf.
const RoleLeaf Role = "leaf"

// LeafDeliverPrefix starts the subjects on which a laptop delivers its
// events to the hub: LeafDeliverPrefix.<machine>. One prefix per machine
// lets the hub allow each laptop to deliver only for its own source.
const LeafDeliverPrefix = "_IDX.leaf"

// LeafSource is how the hub's stream sources the stream of machine m:
// the stream DefaultStream in m's JetStream domain, m's subjects only,
// each kind of event but FilesForgotten. Forgetting files is the hub's
// owner's decision (indexer-project forget): a laptop that forgets its
// files in its own index does not take them out of the hub's. The kinds
// are listed one by one (a source takes no "all but" filter), in
// events.Types order, which names the source: never reorder it.
func LeafSource(m string) jetstream.StreamSource {
	var trs []jetstream.SubjectTransformConfig
	for _, t := range events.Types {
		if t == events.TypeFilesForgotten {
			continue
		}
		subj := events.Subject(m, t)
		trs = append(trs, jetstream.SubjectTransformConfig{Source: subj, Destination: subj})
	}
	return jetstream.StreamSource{
		Name:              DefaultStream,
		SubjectTransforms: trs,
		External: &jetstream.ExternalStream{
			APIPrefix:     "$JS." + m + ".API",
			DeliverPrefix: LeafDeliverPrefix + "." + m,
		},
	}
}

// SourceHeader is the header nats-server puts on every event a stream
// stores from one of its sources, naming the source (Record.Source). It is
// the server's word, not the laptop's: a direct publish carrying it is
// refused, and the hub's server replaces whatever header a source
// delivers with its own.
const SourceHeader = "Nats-Stream-Source"

// CheckSource returns why an event the hub's stream stored from a source
// must not be applied, or nil: a laptop's source may store only its own
// machine's events, of the kinds it takes. nats-server does not check a
// sourced event's subject against the source's filters (the laptop's
// server applies them, and a modified one need not), so a laptop could
// otherwise deliver another machine's events, or its own FilesForgotten,
// through its source. An event not stored from a source (r.Source "")
// passes; one from a source that is not a laptop's does not.
//
// nats-server (stream.go, genSourceHeader, 2.10 on) writes the header as
// "STREAM[:HASH] SEQ FILTERS DESTINATIONS SUBJECT [IDENT]": FILTERS and
// DESTINATIONS are the source's subject transforms, joined by form feeds,
// from the hub's own stream configuration (LeafSource: idx.M.TYPE to
// itself, for each kind but FilesForgotten). CheckSource takes the
// machine from FILTERS, so a source made before an event type was added
// still checks against what it takes.
func CheckSource(r Record) error {
	if r.Source == "" {
		return nil
	}
	m, subjects, ok := leafSourceSubjects(r.Source)
	switch {
	case !ok:
		return fmt.Errorf("%w: stored from source %q, which is not a laptop's", ErrSourceSubject, clipSource(r.Source))
	case !slices.Contains(subjects, r.Subject):
		return fmt.Errorf("%w: %s came through laptop %s's source, which takes only that laptop's own events (%s, but FilesForgotten)",
			ErrSourceSubject, r.Subject, m, events.MachineSubjects(m))
	}
	return nil
}

// ErrSourceSubject is CheckSource's error: a source of the hub's stream
// stored an event it does not take.
var ErrSourceSubject = errors.New("event from a source that does not take it")

// leafSourceSubjects reads a laptop's source header: its machine and the
// subjects it takes. ok is false for a header of any other source.
func leafSourceSubjects(hdr string) (m string, subjects []string, ok bool) {
	f := strings.Split(hdr, " ")
	if len(f) < 5 {
		return "", nil, false
	}
	if name, _, _ := strings.Cut(f[0], ":"); name != DefaultStream {
		return "", nil, false
	}
	subjects = strings.Split(f[2], "\f")
	if f[3] != f[2] { // the transforms keep each subject as it is
		return "", nil, false
	}
	for _, s := range subjects {
		rest, ok := strings.CutPrefix(s, events.SubjectPrefix+".")
		if !ok {
			return "", nil, false
		}
		sm, kind, ok := strings.Cut(rest, ".")
		if !ok || kind == "" || strings.ContainsAny(kind, "*>") || (m != "" && sm != m) || events.ValidateMachine(sm) != nil {
			return "", nil, false
		}
		m = sm
	}
	return m, subjects, true
}

// clipSource shortens a source header for a reason.
func clipSource(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// leafMachine returns the machine a source of the hub's stream belongs to,
// or "" for a source that is not a laptop's.
func leafMachine(src *jetstream.StreamSource) string {
	if src == nil || src.External == nil || src.Name != DefaultStream {
		return ""
	}
	m, ok := strings.CutPrefix(src.External.DeliverPrefix, LeafDeliverPrefix+".")
	if !ok || events.ValidateMachine(m) != nil {
		return ""
	}
	return m
}

// Hub is where a laptop's embedded server connects as a leaf node.
type Hub struct {
	// URL is the hub's leaf listener: nats-leaf://HOST:PORT, or
	// tls://HOST:PORT when it serves TLS (indexer-project run
	// --leaf-listen).
	URL string
	// Credential is the laptop's leaf credential (RoleLeaf), issued by
	// the hub: indexer-project credentials add MACHINE --leaf. Its name
	// is the machine, which is also the server's JetStream domain.
	Credential *Credential
	// CAFile is a PEM file of the certificate authorities to trust for a
	// tls:// URL, besides the system's.
	CAFile string
}

// ErrNotLeaf is returned by embedded.Server.Open when Hub's credential is not a
// leaf credential (RoleLeaf): issue one on the hub with 'indexer-project
// credentials add MACHINE --leaf'.
var ErrNotLeaf = errors.New("not a leaf credential")

// SourceState is how far the hub's stream has sourced a laptop.
type SourceState struct {
	Machine string
	// Lag is how many of the laptop's events the hub has not stored yet,
	// as the source consumer last reported it.
	Lag uint64
	// Active is the time since the hub last heard from the laptop's
	// stream (heartbeats come every second while connected); -1 if never.
	Active time.Duration
	// Error is the source's last error, "" when none.
	Error string
}

// Sources returns the state of the stream's laptop sources.
func (l *Log) Sources(ctx context.Context) ([]SourceState, error) {
	var info *jetstream.StreamInfo
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, l.Stream)
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stream sources: %w", translate(err))
	}
	var out []SourceState
	for _, si := range info.Sources {
		src := jetstream.StreamSource{Name: si.Name, External: si.External}
		m := leafMachine(&src)
		if m == "" {
			continue
		}
		st := SourceState{Machine: m, Lag: si.Lag, Active: si.Active}
		if si.Error != nil {
			st.Error = si.Error.Error()
		}
		out = append(out, st)
	}
	return out, nil
}

// SetSources makes the stream source exactly the laptops of machines
// (LeafSource), keeping any other source it has. A source already there
// is left alone; a new one starts where the stream's record of that
// source ends (nowhere: from the laptop's first event).
func (l *Log) SetSources(ctx context.Context, machines []string) error {
	return l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		var out []*jetstream.StreamSource
		have := map[string]bool{}
		for _, src := range cur {
			m := leafMachine(src)
			if m != "" && !slices.Contains(machines, m) {
				continue
			}
			have[m] = true
			out = append(out, src)
		}
		for _, m := range machines {
			if !have[m] {
				src := LeafSource(m)
				out = append(out, &src)
			}
		}
		return out
	})
}

// updateSources applies fn to the stream's sources, and updates the
// stream when they changed.
func (l *Log) updateSources(ctx context.Context, fn func([]*jetstream.StreamSource) []*jetstream.StreamSource) error {
	err := l.call(ctx, func(ctx context.Context) error {
		s, err := l.js.Stream(ctx, l.Stream)
		if err != nil {
			return err
		}
		cfg := s.CachedInfo().Config
		next := fn(cfg.Sources)
		if sameSources(cfg.Sources, next) {
			return nil
		}
		cfg.Sources = next
		_, err = l.js.UpdateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("update stream sources: %w", translate(err))
	}
	return nil
}

func sameSources(a, b []*jetstream.StreamSource) bool {
	return slices.EqualFunc(a, b, func(x, y *jetstream.StreamSource) bool {
		return x.Name == y.Name && x.FilterSubject == y.FilterSubject && slices.Equal(x.SubjectTransforms, y.SubjectTransforms) &&
			(x.External == nil) == (y.External == nil) &&
			(x.External == nil || *x.External == *y.External)
	})
}

// RestartSource removes machine m's source and adds it back: the server
// sets the source up at once, resuming from the last source sequence the
// stream stored (it keeps that per source, and finds it again in the
// stored events' Nats-Stream-Source headers), instead of waiting out its
// retry back-off.
func (l *Log) RestartSource(ctx context.Context, m string) error {
	var at int
	err := l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		at = slices.IndexFunc(cur, func(s *jetstream.StreamSource) bool { return leafMachine(s) == m })
		if at < 0 {
			return cur
		}
		return slices.Delete(slices.Clone(cur), at, at+1)
	})
	if err != nil || at < 0 {
		return err
	}
	return l.updateSources(ctx, func(cur []*jetstream.StreamSource) []*jetstream.StreamSource {
		if slices.ContainsFunc(cur, func(s *jetstream.StreamSource) bool { return leafMachine(s) == m }) {
			return cur
		}
		src := LeafSource(m)
		return slices.Insert(slices.Clone(cur), min(at, len(cur)), &src)
	})
}
