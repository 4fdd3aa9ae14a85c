package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// report prints the table of figures and targets.
func report(out io.Writer, cfg config, version string, r *result) {
	n := r.produced.events
	rate := float64(n) / r.wall.Seconds()
	fmt.Fprintf(out, "\nresults (%s events of %d bytes on average, %d partitions, %s-row batches; ClickHouse %s; %d cores)\n",
		num(n), r.produced.bytes/n, cfg.Partitions, num(int64(cfg.BatchRows)), version, numCPU())
	fmt.Fprintf(out, "  %-44s %-22s %s\n", "figure", "reached", "target")
	row := func(name, reached, target string) { fmt.Fprintf(out, "  %-44s %-22s %s\n", name, reached, target) }
	row("Kafka -> ClickHouse, end to end", num(int64(rate))+" events/s", verdict(rate >= TargetEventsPerSecond, ">= 400,000 events/s"))
	if r.firstSeen > 0 && r.wall > r.firstSeen {
		steady := float64(n-r.atFirst) / (r.wall - r.firstSeen).Seconds()
		row("  after the first commit (start-up excluded)", num(int64(steady))+" events/s", "")
	}
	row("  wall time", fmt.Sprintf("%.2f s", r.wall.Seconds()), fmt.Sprintf("(first commit after %.2f s)", r.firstSeen.Seconds()))
	perEv := float64(r.use.cpu.Microseconds()) / float64(n)
	row("consumer CPU (user + system)", fmt.Sprintf("%.1f s", r.use.cpu.Seconds()),
		fmt.Sprintf("%.2f µs an event: %s (user %.1f s, system %.1f s)", perEv,
			verdict(perEv <= TargetConsumerCPUPerEv, "<= 1.5 µs"), r.use.user.Seconds(), r.use.sys.Seconds()))
	row("consumer peak RSS", fmt.Sprintf("%s MB", num(r.use.maxRSS/1_000_000)), verdict(r.use.maxRSS <= TargetPeakRSSBytes, "<= 300 MB")+
		fmt.Sprintf("  (rusage; /proc VmHWM polled: %s MB)", num(r.hwm/1_000_000)))
	if !cfg.SkipDirect {
		direct := float64(r.direct.rows) / r.direct.took.Seconds()
		row("ClickHouse direct columnar insert (no Kafka)", num(int64(direct))+" events/s",
			fmt.Sprintf("(same rows, %d inserts, %.1f s) the pipeline reached %.0f %% of it: %s", r.direct.inserts, r.direct.took.Seconds(),
				100*rate/direct, verdict(rate/direct >= TargetShareOfDirect, ">= 60 %")))
		if r.directCHCPU > 0 {
			row("  ClickHouse server CPU during it", fmt.Sprintf("%.1f s", r.directCHCPU.Seconds()),
				fmt.Sprintf("(%.2f µs an event)", float64(r.directCHCPU.Microseconds())/float64(r.direct.rows)))
		}
	}
	if r.chCPU > 0 {
		srv := float64(r.chCPU.Microseconds()) / float64(n)
		row("ClickHouse server CPU during the run", fmt.Sprintf("%.1f s", r.chCPU.Seconds()),
			fmt.Sprintf("%.2f µs an event: %s", srv, verdict(srv <= TargetServerCPUPerEv, "<= 2.5 µs")))
	}
	row("kfake (bench process) CPU during the run", fmt.Sprintf("%.1f s", r.selfCPU.Seconds()),
		fmt.Sprintf("(cores x wall = %.1f s available)", float64(numCPU())*r.wall.Seconds()))
	if r.machineCPU > 0 {
		// The consumer's CPU is read when it exits, a little after wall ends.
		other := r.machineCPU - r.use.cpu - r.chCPU - r.selfCPU
		row("other processes' CPU during the run", fmt.Sprintf("%.1f s", max(other, 0).Seconds()),
			"(anything well above 0 means the figures above are depressed)")
		row("CPU stolen by the hypervisor during the run", fmt.Sprintf("%.1f s", r.stealCPU.Seconds()),
			"(a virtual machine's host busy elsewhere: well above 0, every figure above is depressed)")
	}
	row("rows in "+benchDatabase+".events", num(int64(r.rows)), verdict(int64(r.rows) == n, "= events produced"))
	row("bench process peak RSS (generator, kfake)", fmt.Sprintf("%s MB", num(r.selfMaxRSS/1_000_000)), "")
}

func verdict(met bool, target string) string {
	if met {
		return target + "  met"
	}
	return target + "  MISSED"
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// numCPU is the machine's cores, which the consumer, ClickHouse and kfake share.
func numCPU() int { return runtime.NumCPU() }

// num formats n with thousands separators (1,300,000).
func num(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)

func envPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return strings.Join(env, " ") + " "
}
