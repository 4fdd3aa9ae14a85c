package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/scenario"
	"github.com/spacepulse/spacepulse/sql/report"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// runNight replays a scenario (producers/scenario/scenarios/) through the embedded
// broker into ClickHouse, then tells the story of the night from ClickHouse
// and checks every figure against the scenario's ground truth.
func runNight(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) (ok bool, err error) {
	began := time.Now()
	sc, err := scenario.Load(cfg.Scenario)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(out, "spacepulse demo: replaying %s (%s) at scale %g, seed %d\n", sc.Name, sc.Description, cfg.Scale, cfg.Seed)
	fmt.Fprintf(out, "  -> producer library -> Kafka -> consumer -> ClickHouse\n\n")
	pl, err := startPipeline(ctx, cfg, logger, out)
	if err != nil {
		return false, err
	}
	defer pl.close()

	p, err := producer.New(producer.Config{Brokers: strings.Split(cmp.Or(cfg.Brokers, pl.k.Addr), ","), Topic: topic, Logger: logger,
		Encoding: producer.Protobuf, Flushers: 8})
	if err != nil {
		return false, err
	}
	g := scenario.NewGenerator(sc, scenario.Options{Seed: cfg.Seed, Scale: cfg.Scale})
	sendStart := time.Now()
	sent, err := scenario.Replay(ctx, g, p, scenario.ReplayConfig{Every: 5 * time.Second, Progress: func(pr scenario.Progress) {
		if !pr.Final {
			fmt.Fprintf(out, "  replay      %s events sent, %s/s, event time %s (%s), %.0f %% done\n",
				num(pr.Sent), num(int64(pr.Rate())), sc.ClockTime(pr.EventTime.Sub(sc.T0)), pr.Phase, 100*pr.Done)
		}
	}})
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("replay %s: %w", sc.Name, err)
	}
	truth := g.Truth()
	sendTook := time.Since(sendStart)
	fmt.Fprintf(out, "  replay      %s events (%s joins, %s leaves, %s errors) + %s duplicate deliveries in %.1f s\n",
		num(truth.Events.Total), num(truth.Events.Joins), num(truth.Events.Leaves), num(truth.Events.Errors),
		num(truth.Duplicates), sendTook.Seconds())
	end, committed, err := pl.waitCommitted(ctx, cfg.Timeout, nil)
	if err != nil {
		return false, err
	}
	took := committed.Sub(sendStart)
	fmt.Fprintf(out, "  committed   all %s messages %.1f s after the first was sent: %s events/s end to end\n",
		num(end.Sum()), took.Seconds(), num(int64(float64(sent)/took.Seconds())))

	c := &groundtruth.Checker{}
	c.Eq("messages delivered", end.Sum(), truth.Delivered)
	c.Eq("rows the consumer inserted (each event once)", pl.stats.Events.Load(), truth.Events.Total)
	c.Eq("copies the consumer kept out", pl.stats.Duplicates.Load(), truth.Duplicates)
	rows, distinct, err := counts(ctx, pl.conn)
	if err != nil {
		return false, err
	}
	c.Eq("rows in the events table", int64(rows), truth.Events.Total)
	c.Eq("distinct event ids in the events table", int64(distinct), truth.Events.Total)
	fmt.Fprintf(out, "  landed      %s events once each; %s copies kept out by the consumer\n",
		num(int64(rows)), num(pl.stats.Duplicates.Load()))
	for i := range truth.Rooms {
		if err := tellRoom(ctx, out, pl, sc, truth, &truth.Rooms[i], cfg, c); err != nil {
			return false, err
		}
	}
	fmt.Fprintln(out)
	if c.OK() {
		fmt.Fprintf(out, "ground truth: every figure above and every second of every curve matches exactly (%s compared)\n",
			num(int64(c.Compared)))
	} else {
		fmt.Fprintf(out, "ground truth: %d MISMATCHES (of %s figures compared):\n", len(c.Mismatches), num(int64(c.Compared)))
		for _, m := range c.Mismatches[:min(len(c.Mismatches), 20)] {
			fmt.Fprintln(out, "  "+m)
		}
	}
	fmt.Fprintf(out, "\nexplore it (the database stays until the next demo):\n"+
		"  go run ./sql/cmd/spacepulse-report -clickhouse-addr %s -clickhouse-database %s -space %s --tz America/New_York --png night.png\n",
		cfg.ClickHouse.Addr, cfg.ClickHouse.Database, truth.Rooms[0].SpaceID)
	fmt.Fprintf(out, "demo took %.1f s\n", time.Since(began).Seconds())
	return c.OK(), nil
}

// tellRoom prints one room's night and checks it against the truth.
func tellRoom(ctx context.Context, out io.Writer, pl *demoPipeline, sc *scenario.Scenario, truth *scenario.Truth,
	rt *scenario.RoomTruth, cfg config, c *groundtruth.Checker) error {
	conn := pl.conn
	clock := func(t time.Time) string { return sc.ClockTime(t.Sub(sc.T0)) }
	from, to := truth.Start, truth.End.Add(-time.Second)
	fmt.Fprintf(out, "\nroom %s (space %s), clock %s\n", rt.Name, rt.SpaceID, clockName(sc))

	// One report: the curve, the peak, the minutes, the codes and the alerts,
	// as spacepulse-report computes them; the picture is drawn from it.
	png := filepath.Join(cfg.OutDir, fmt.Sprintf("%s-%s.png", sc.Name, rt.Name))
	r, err := drawNight(ctx, conn, sc, rt, from, to, png)
	if err != nil {
		return err
	}
	curve := r.Concurrency
	want := rt.CCL.Values
	c.Eq(rt.Name+": seconds in the curve", len(curve), len(want))
	for i := 0; i < len(curve) && i < len(want); i++ {
		c.Eq(fmt.Sprintf("%s: CCL at %s", rt.Name, clock(curve[i].Time)), curve[i].Listeners, want[i])
	}
	peak := r.Summary.Peak
	c.Eq(rt.Name+": peak", peak.Listeners, rt.Peak)
	c.Eq(rt.Name+": peak at", peak.Time, rt.PeakAt.UTC())
	fmt.Fprintf(out, "  peak            %s listeners at %s (%s at full scale)\n",
		num(peak.Listeners), clock(peak.Time), num(int64(float64(peak.Listeners)/cfg.Scale)))

	if err := tellAnchors(out, sc, rt.Name, curve, peak, from, cfg.Scale); err != nil {
		return err
	}

	buckets := r.FailureRate
	for i, b := range buckets {
		if i < len(rt.Minutes.Attempts) {
			c.Eq(fmt.Sprintf("%s: attempts in minute %s", rt.Name, clock(b.Start)), b.Attempts, rt.Minutes.Attempts[i])
			c.Eq(fmt.Sprintf("%s: technical failures in minute %s", rt.Name, clock(b.Start)), b.TechnicalFailures, rt.Minutes.Technical[i])
		}
	}
	fmt.Fprintf(out, "  phases          %-16s %-17s %10s %10s %8s %10s\n", "", "clock", "attempts", "technical", "rate", "business")
	// Phases start and end on whole minutes: sum the per-minute rollup.
	for _, ph := range rt.PhaseTruth {
		var attempts, technical, business int64
		for _, b := range buckets {
			if !b.Start.Before(ph.From) && b.Start.Before(ph.To) {
				attempts, technical, business = attempts+b.Attempts, technical+b.TechnicalFailures, business+b.BusinessFailures
			}
		}
		c.Eq(rt.Name+" "+ph.Name+": attempts", attempts, ph.Attempts)
		c.Eq(rt.Name+" "+ph.Name+": technical failures", technical, ph.Technical)
		c.Eq(rt.Name+" "+ph.Name+": business failures", business, ph.Business)
		rate := "-"
		if attempts > 0 {
			rate = fmt.Sprintf("%.1f %%", 100*float64(technical)/float64(attempts))
		}
		fmt.Fprintf(out, "                  %-16s %-17s %10s %10s %8s %10s\n", ph.Name, clock(ph.From)+"-"+clock(ph.To),
			num(attempts), num(technical), rate, num(business))
	}

	codes := slices.Clone(r.FailuresByCode)
	failed := func(b warehouse.Breakdown) int64 { return b.TechnicalFailures + b.BusinessFailures }
	codes = slices.DeleteFunc(codes, func(b warehouse.Breakdown) bool { return failed(b) == 0 })
	slices.SortFunc(codes, func(a, b warehouse.Breakdown) int { return int(failed(b) - failed(a)) })
	c.Eq(rt.Name+": error codes seen", len(codes), len(rt.ByCode))
	line := ""
	for i, b := range codes {
		c.Eq(rt.Name+": failures with code "+b.Value, failed(b), rt.ByCode[b.Value])
		if i < 5 {
			line += fmt.Sprintf("%s %s  ", b.Value, num(failed(b)))
		}
	}
	fmt.Fprintf(out, "  top codes       %s\n", line)

	alerts := r.Alerts
	roomEnd := roomEnd(sc, rt.Name)
	if len(alerts) == 0 {
		fmt.Fprintf(out, "  alert           the 5 %% page never fired\n")
	}
	for _, a := range alerts {
		cleared := "still firing at the end"
		if !a.ClearedAt.IsZero() {
			cleared = "cleared " + clock(a.ClearedAt)
		}
		fmt.Fprintf(out, "  alert           page fired %s, %s (technical join failures > 5 %% for 2 min)\n", clock(a.FiredAt), cleared)
	}
	paged := false
	for _, a := range alerts {
		if !a.FiredAt.Before(roomEnd) {
			paged = true
		}
	}
	var lateBusiness, lateTechnical int64
	for _, b := range buckets {
		if !b.Start.Before(roomEnd) {
			lateBusiness, lateTechnical = lateBusiness+b.BusinessFailures, lateTechnical+b.TechnicalFailures
		}
	}
	if paged {
		fmt.Fprintf(out, "  after the end   A PAGE FIRED after the room ended at %s\n", clock(roomEnd))
		c.Eq(rt.Name+": pages after the room ended", 1, 0)
	} else {
		fmt.Fprintf(out, "  after the end   room ended %s; %s late join attempts got business errors (%s technical): nothing paged\n",
			clock(roomEnd), num(lateBusiness), num(lateTechnical))
	}
	for _, pg := range r.Pages {
		figure := func(m *warehouse.AlertMinute) string {
			if pg.Rule.Input == warehouse.RetryRule.Input {
				return fmt.Sprintf("%.1f attempts a user in minute %s", *m.Value, clock(m.Start))
			}
			return fmt.Sprintf("%.1f %% fall in minute %s", 100**m.Value, clock(m.Start))
		}
		switch worst := pg.Worst(); {
		case len(pg.Alerts) == 0 && worst != nil:
			fmt.Fprintf(out, "  page            %s: never fired (largest, room ends aside: %s)\n", pg.Rule.Name, figure(worst))
		case len(pg.Alerts) == 0:
			fmt.Fprintf(out, "  page            %s: never fired\n", pg.Rule.Name)
		}
		for _, a := range pg.Alerts {
			cleared := "still firing at the end"
			if !a.ClearedAt.IsZero() {
				cleared = "cleared " + clock(a.ClearedAt)
			}
			fmt.Fprintf(out, "  page            %s: fired %s, %s\n", pg.Rule.Name, clock(a.FiredAt), cleared)
		}
	}
	c.Eq(rt.Name+": unique listeners", r.Summary.UniqueListeners, rt.Listeners)
	fmt.Fprintf(out, "  picture         %s\n", png)
	return nil
}

// drawNight renders the room's night with the report's plot and returns the
// report it drew.
func drawNight(ctx context.Context, conn warehouse.Querier, sc *scenario.Scenario, rt *scenario.RoomTruth,
	from, to time.Time, path string) (*report.Report, error) {
	r, err := report.Build(ctx, conn, report.Options{Space: rt.SpaceID, From: from, To: to})
	if err != nil {
		return nil, err
	}
	var phases []report.Phase
	for _, ph := range rt.PhaseTruth {
		phases = append(phases, report.Phase{Name: ph.Name, Start: ph.From, End: ph.To})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("picture folder: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create picture: %w", err)
	}
	loc := time.FixedZone(clockName(sc), int(sc.Clock/time.Second))
	if err := r.Plot(f, report.PlotOptions{Format: report.FormatPNG, Location: loc, Phases: phases}); err != nil {
		f.Close()
		return nil, err
	}
	return r, f.Close()
}

func clockName(sc *scenario.Scenario) string {
	if sc.Clock == 0 {
		return "UTC"
	}
	return fmt.Sprintf("UTC%+d", int(sc.Clock/time.Hour))
}

func roomEnd(sc *scenario.Scenario, name string) time.Time {
	for _, r := range sc.Rooms {
		if r.Name == name {
			return sc.T0.Add(r.End)
		}
	}
	return sc.T0.Add(sc.End)
}

// tellAnchors prints the room's CCL at each press anchor of the scenario
// beside the press figure, scaled back to the full night.
func tellAnchors(out io.Writer, sc *scenario.Scenario, room string, curve []warehouse.Point, peak warehouse.Point,
	from time.Time, scale float64) error {
	header := false
	for _, a := range sc.Anchors {
		if a.Room != room {
			continue
		}
		if !header {
			fmt.Fprintf(out, "  press anchors   %-13s %12s %19s\n", "clock", "spacepulse", "press")
			header = true
		}
		off, err := sc.At(a.Clock)
		if err != nil {
			return err
		}
		at := func(off time.Duration) (int64, bool) {
			i := int(sc.T0.Add(off).Sub(from) / time.Second)
			if i < 0 || i >= len(curve) {
				return 0, false
			}
			return curve[i].Listeners, true
		}
		lo, hi := a.Band()
		label, press := a.Clock, num(int64(a.CCL))
		if a.CCLMax > a.CCL {
			press += "-" + num(int64(a.CCLMax))
		}
		var got int64
		switch {
		case a.Peak:
			label, got = "peak", peak.Listeners
		case a.Until != "":
			until, err := sc.At(a.Until)
			if err != nil {
				return err
			}
			label, press, hi = a.Clock+"-"+a.Until+" min", ">= "+press, math.Inf(1)
			got = math.MaxInt64
			for o := off; o <= until; o += time.Second {
				if v, ok := at(o); ok {
					got = min(got, v)
				}
			}
		default:
			v, ok := at(off)
			if !ok {
				continue
			}
			got = v
		}
		full := float64(got) / scale
		verdict := "within ±10 %"
		if full < lo || full > hi {
			verdict = "OUTSIDE ±10 %"
		}
		fmt.Fprintf(out, "                  %-13s %12s %19s   %s (%s)\n", label, num(int64(full)), press, verdict, a.Source)
	}
	return nil
}
