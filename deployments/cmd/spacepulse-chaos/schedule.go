package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Kind is a kind of fault.
type Kind int

// The faults a run injects.
const (
	ScaleUp        Kind = iota // start consumers 2 and 3: the group goes 1 -> 3
	ScaleDown                  // SIGTERM consumers 2 and 3: 3 -> 1
	Kill                       // SIGKILL one consumer, restart it after Fault.For
	ClickHouseStop             // stop the run's ClickHouse for Fault.For, then start it
	BrokerRestart              // stop the run's Kafka broker and start it again at once
	ReplicaKill                // cluster: SIGKILL ClickHouse server Fault.Member, start it after Fault.For
	BrokerKill                 // cluster: SIGKILL Kafka broker Fault.Member, start it after Fault.For
	kinds                      // how many kinds there are
)

func (k Kind) String() string {
	return [...]string{"scale 1 -> 3", "scale 3 -> 1", "SIGKILL", "ClickHouse stop", "broker restart",
		"ClickHouse replica SIGKILL", "broker SIGKILL"}[k]
}

// Fault is one fault of a plan: what happens At after the load starts.
type Fault struct {
	At   time.Duration
	Kind Kind
	// Member is the consumer a Kill hits: 1 (there from start to end), 2 or 3 (there between
	// ScaleUp and ScaleDown).
	Member int
	// For is how long a killed consumer stays dead, or how long ClickHouse stays stopped.
	For time.Duration
}

func (f Fault) String() string {
	switch f.Kind {
	case Kill:
		return fmt.Sprintf("%6.1f s  SIGKILL consumer %d, restarted %.1f s later", f.At.Seconds(), f.Member, f.For.Seconds())
	case ClickHouseStop:
		return fmt.Sprintf("%6.1f s  ClickHouse stopped for %.0f s", f.At.Seconds(), f.For.Seconds())
	case ReplicaKill:
		return fmt.Sprintf("%6.1f s  SIGKILL ClickHouse server %d (shard %d, replica %d), restarted %.1f s later",
			f.At.Seconds(), f.Member, (f.Member+1)/2, 2-f.Member%2, f.For.Seconds())
	case BrokerKill:
		return fmt.Sprintf("%6.1f s  SIGKILL Kafka broker %d, restarted %.1f s later", f.At.Seconds(), f.Member, f.For.Seconds())
	}
	return fmt.Sprintf("%6.1f s  %s", f.At.Seconds(), f.Kind)
}

// Profile is the size of a run: how long the load lasts and how many faults fall into it.
type Profile struct {
	Name  string
	Scale float64 // share of the scenario's listeners replayed
	// Load is the wall time of the paced replay; every fault starts within it.
	Load time.Duration
	// Kills is how many consumers are SIGKILLed, at random moments of the load.
	Kills int
	// Outage is how long ClickHouse is stopped (on a cluster: how long the killed replica stays down).
	Outage time.Duration
	// Cluster runs on the loopback cluster (deployments/local/cluster-up.sh) with three
	// consumers from start to end, and kills a ClickHouse replica and a broker instead of
	// stopping ClickHouse, restarting the broker and scaling (PlanCluster).
	Cluster bool
	// Faults is false for a run without any (a throughput measurement).
	NoFaults bool
}

// The profiles of make chaos and make chaos-short (.ci/run).
var (
	Full  = Profile{Name: "full", Scale: 0.1, Load: 300 * time.Second, Kills: 6, Outage: 60 * time.Second}
	Short = Profile{Name: "short", Scale: 0.03, Load: 100 * time.Second, Kills: 2, Outage: 60 * time.Second}
	// make test-cluster: the loopback cluster, 3 consumers, a replica and a broker killed.
	ClusterProfile = Profile{Name: "cluster", Scale: 0.03, Load: 90 * time.Second, Kills: 2, Outage: 15 * time.Second, Cluster: true}
	// The cluster's throughput with 3 consumers: 30 % of the night (2.7M events) replayed as fast
	// as it goes into Kafka, then consumed by the three; no fault.
	ClusterBench = Profile{Name: "cluster-bench", Scale: 0.3, Load: 30 * time.Second, Outage: time.Second, Cluster: true, NoFaults: true}
)

// LongKill is how long the first consumer SIGKILLed on a cluster stays dead: longer than the
// session timeout (6 s) and a rebalance, so the group must hand its partitions to the others
// (the injector checks that every partition's committed offset moves meanwhile).
const LongKill = 20 * time.Second

// PlanCluster draws the faults of a cluster run from seed: a ClickHouse server SIGKILLed between
// a tenth and a fifth of the load and started p.Outage later (one of servers 1-3, which the three
// consumers reach the cluster through first: the kill cuts inserts in flight, through it and
// into its shard); the first of p.Kills consumer
// SIGKILLs between 40 and 50 % of the load, dead for LongKill, the others anywhere between 5 and
// 95 %, dead for 1-5 s; a broker SIGKILLed between 75 and 80 %, started 5-10 s later.
func PlanCluster(p Profile, seed uint64) []Fault {
	if p.NoFaults {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0xc1a55e5))
	at := func(lo, hi float64) time.Duration {
		return time.Duration((lo + (hi-lo)*r.Float64()) * float64(p.Load)).Round(100 * time.Millisecond)
	}
	plan := []Fault{
		{At: at(0.1, 0.2), Kind: ReplicaKill, Member: 1 + r.IntN(3), For: p.Outage},
		{At: at(0.75, 0.8), Kind: BrokerKill, Member: 1 + r.IntN(clusterBrokers), For: time.Duration(5000+r.IntN(5000)) * time.Millisecond},
	}
	for i := range p.Kills {
		f := Fault{At: at(0.05, 0.95), Kind: Kill, Member: 1 + r.IntN(3), For: time.Duration(1000+r.IntN(4000)) * time.Millisecond}
		if i == 0 {
			f.At, f.For = at(0.4, 0.5), LongKill
		}
		plan = append(plan, f)
	}
	slices.SortStableFunc(plan, func(a, b Fault) int { return int(a.At - b.At) })
	return plan
}

// Plan draws the faults of a run from seed, in the order they happen: the group scales up at a
// tenth of the load and down at four fifths; ClickHouse stops once between a fifth and three
// tenths of the load, for p.Outage; the broker restarts once, at least 5 s after ClickHouse is
// back (between 55 and 65 % of the load when that is later); p.Kills consumers are SIGKILLed
// between 5 and 95 % of the load, each dead for 1-5 s, and only one that is a member for that
// whole time. The same seed and profile give the same plan.
func Plan(p Profile, seed uint64) []Fault {
	r := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	at := func(lo, hi float64) time.Duration {
		return time.Duration((lo + (hi-lo)*r.Float64()) * float64(p.Load)).Round(100 * time.Millisecond)
	}
	up, down := time.Duration(0.1*float64(p.Load)), time.Duration(0.8*float64(p.Load))
	stop := at(0.2, 0.3)
	restart := max(at(0.55, 0.65), stop+p.Outage+5*time.Second)
	plan := []Fault{
		{At: up, Kind: ScaleUp},
		{At: down, Kind: ScaleDown},
		{At: stop, Kind: ClickHouseStop, For: p.Outage},
		{At: restart, Kind: BrokerRestart},
	}
	for range p.Kills {
		f := Fault{At: at(0.05, 0.95), Kind: Kill, Member: 1 + r.IntN(3)}
		f.For = time.Duration(1000+r.IntN(4000)) * time.Millisecond
		if f.Member > 1 && (f.At < up || f.At+f.For >= down) {
			f.Member = 1 // consumers 2 and 3 are not members then
		}
		plan = append(plan, f)
	}
	slices.SortStableFunc(plan, func(a, b Fault) int { return int(a.At - b.At) })
	return plan
}

// Counts tallies the faults of a plan (or of those injected) by kind.
func Counts(faults []Fault) [kinds]int {
	var n [kinds]int
	for _, f := range faults {
		n[f.Kind]++
	}
	return n
}

// Summary is the faults line of a run: how many of each kind were injected and for how long
// ClickHouse was down in all.
func Summary(faults []Fault) string {
	n := Counts(faults)
	var down time.Duration
	for _, f := range faults {
		if f.Kind == ClickHouseStop {
			down += f.For
		}
	}
	scale := "none"
	switch {
	case n[ScaleUp] > 0 && n[ScaleDown] > 0:
		scale = "1 -> 3 -> 1"
	case n[ScaleUp] > 0:
		scale = "1 -> 3"
	}
	if n[ReplicaKill]+n[BrokerKill] > 0 {
		return fmt.Sprintf("%d consumer SIGKILLs, %d ClickHouse replica SIGKILL(s), %d broker SIGKILL(s), 3 consumers throughout",
			n[Kill], n[ReplicaKill], n[BrokerKill])
	}
	parts := []string{
		fmt.Sprintf("%d SIGKILLs", n[Kill]),
		fmt.Sprintf("ClickHouse stopped %d time(s), %.0f s in all", n[ClickHouseStop], down.Seconds()),
		fmt.Sprintf("%d broker restart(s)", n[BrokerRestart]),
		"scale " + scale,
	}
	return strings.Join(parts, ", ")
}
