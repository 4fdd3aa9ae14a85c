package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/producers/scenario"
)

var _ scenario.Sink = (*producer.Producer)(nil)

type replayConfig struct {
	scenario      string
	sc            *scenario.Scenario
	opt           scenario.Options
	speed         float64
	truth         string
	progress      string
	printScenario bool
}

func (c *replayConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.scenario, "scenario", "", "scenario: "+strings.Join(scenario.Names(), ", ")+", or a .yaml file")
	fs.Float64Var(&c.opt.Scale, "scale", 1, "share of the population to simulate (0.01 = 1 %)")
	fs.Uint64Var(&c.opt.Seed, "seed", 1, "random seed (same seed, same events and truth)")
	fs.Float64Var(&c.speed, "speed", 0, "event time per wall time: 0 as fast as possible, 1 real time, 60 = an hour a minute")
	fs.BoolVar(&c.opt.NoJitter, "no-jitter", false, "backoff retries after exactly 2^n s (synchronized retry spikes)")
	fs.BoolVar(&c.opt.NoTransport, "no-transport", false, "send every event once, in event-time order (no delay, no duplicates)")
	fs.StringVar(&c.truth, "truth", "", "write the ground truth (JSON) to this file")
	fs.StringVar(&c.progress, "progress", "auto", "progress display: auto (bar on a terminal, lines otherwise), bar, lines, none")
	fs.BoolVar(&c.printScenario, "print-scenario", false, "print the scenario's YAML (to copy and edit) and exit")
}

func (c *replayConfig) check() error {
	if c.scenario == "" {
		return fmt.Errorf("-scenario is empty: name one of %s or a .yaml file", strings.Join(scenario.Names(), ", "))
	}
	if c.printScenario {
		return nil
	}
	switch {
	case c.opt.Scale <= 0 || c.opt.Scale > 10:
		return fmt.Errorf("-scale %g: want a share of the population in (0, 10]", c.opt.Scale)
	case c.speed < 0:
		return fmt.Errorf("-speed %g: want 0 (as fast as possible) or a positive factor", c.speed)
	case c.progress != "auto" && c.progress != "bar" && c.progress != "lines" && c.progress != "none":
		return fmt.Errorf("-progress %q: want auto, bar, lines or none", c.progress)
	}
	sc, err := scenario.Load(c.scenario)
	if err != nil {
		return err
	}
	c.sc = sc
	return nil
}

func printScenario(name string) error {
	var data []byte
	var err error
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		data, err = os.ReadFile(name)
	} else {
		data, err = scenario.Builtin(name)
	}
	if err != nil {
		return fmt.Errorf("print scenario %q: %w", name, err)
	}
	_, err = os.Stdout.Write(data)
	return err
}

// replay produces the scenario through p, shows progress and writes the
// truth file once every event is queued.
func replay(ctx context.Context, p scenario.Sink, c replayConfig, logger *slog.Logger) (int64, error) {
	g := scenario.NewGenerator(c.sc, c.opt)
	mode := c.progress
	if mode == "auto" {
		mode = "lines"
		if term.IsTerminal(int(os.Stderr.Fd())) {
			mode = "bar"
		}
	}
	logger.Info("replay", slog.String("scenario", c.sc.Name), slog.Float64("scale", c.opt.Scale),
		slog.Uint64("seed", c.opt.Seed), slog.Float64("speed", c.speed), slog.Bool("jitter", !c.opt.NoJitter),
		slog.Time("from", g.Start()), slog.Duration("event_time", g.Duration()))
	rc := scenario.ReplayConfig{Speed: c.speed}
	switch mode {
	case "bar":
		rc.Progress = func(pr scenario.Progress) { drawBar(os.Stderr, c.sc, pr) }
		rc.Every = 200 * time.Millisecond
	case "lines":
		rc.Progress = func(pr scenario.Progress) { logProgress(logger, c.sc, pr) }
		rc.Every = 5 * time.Second
	}
	n, err := scenario.Replay(ctx, g, p, rc)
	if err != nil {
		return n, err
	}
	t := g.Truth()
	logger.Info("replayed", slog.Int64("events", t.Events.Total), slog.Int64("duplicates", t.Duplicates),
		slog.Int64("delivered", t.Delivered), slog.Int64("unique_users", t.Users))
	for _, r := range t.Rooms {
		logger.Info("room", slog.String("space_id", r.SpaceID), slog.String("name", r.Name),
			slog.Int64("peak_ccl", r.Peak), slog.String("peak_at", c.sc.ClockTime(r.PeakAt.Sub(c.sc.T0))),
			slog.Int64("attempts", r.Attempts), slog.Float64("per_attempt_failure", r.PerAttemptFailure))
	}
	if c.truth != "" {
		if err := t.WriteFile(c.truth); err != nil {
			return n, err
		}
		logger.Info("truth written", slog.String("file", c.truth))
	}
	return n, nil
}

func logProgress(logger *slog.Logger, sc *scenario.Scenario, p scenario.Progress) {
	logger.Info("progress", slog.Int64("sent", p.Sent), slog.Float64("rate", float64(int64(p.Rate()))),
		slog.String("phase", p.Phase), slog.String("event_time", sc.ClockTime(p.EventTime.Sub(sc.T0))),
		slog.String("done", fmt.Sprintf("%.1f%%", 100*p.Done)), slog.Duration("eta", p.ETA.Round(time.Second)))
}

func drawBar(w io.Writer, sc *scenario.Scenario, p scenario.Progress) {
	const width = 30
	full := int(p.Done * width)
	bar := strings.Repeat("#", full) + strings.Repeat(".", width-full)
	line := fmt.Sprintf("\r[%s] %5.1f%% %s events %s/s  %s %-16q ETA %s ", bar, 100*p.Done,
		human(float64(p.Sent)), human(p.Rate()), sc.ClockTime(p.EventTime.Sub(sc.T0)), p.Phase, p.ETA.Round(time.Second))
	if p.Final {
		line += "\n"
	}
	_, _ = io.WriteString(w, line)
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
