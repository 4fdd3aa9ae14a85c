package main

import (
	"slices"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	f := func(p Profile, seed uint64) {
		t.Helper()
		plan := Plan(p, seed)
		if again := Plan(p, seed); !slices.Equal(plan, again) {
			t.Fatalf("seed %d: two plans differ:\n%v\n%v", seed, plan, again)
		}
		n := Counts(plan)
		if n != [kinds]int{ScaleUp: 1, ScaleDown: 1, Kill: p.Kills, ClickHouseStop: 1, BrokerRestart: 1} {
			t.Fatalf("seed %d: %v of each kind", seed, n)
		}
		var up, down, stop, restart time.Duration
		for i, fl := range plan {
			if i > 0 && fl.At < plan[i-1].At {
				t.Fatalf("seed %d: fault %d at %s before fault %d at %s", seed, i, fl.At, i-1, plan[i-1].At)
			}
			if fl.At <= 0 || fl.At >= p.Load {
				t.Fatalf("seed %d: %s at %s, outside the %s of load", seed, fl.Kind, fl.At, p.Load)
			}
			switch fl.Kind {
			case ScaleUp:
				up = fl.At
			case ScaleDown:
				down = fl.At
			case ClickHouseStop:
				stop = fl.At
				if fl.For != p.Outage {
					t.Fatalf("seed %d: ClickHouse stopped for %s, want %s", seed, fl.For, p.Outage)
				}
			case BrokerRestart:
				restart = fl.At
			}
		}
		if restart < stop+p.Outage+5*time.Second {
			t.Fatalf("seed %d: broker restart at %s while ClickHouse is stopped %s-%s", seed, restart, stop, stop+p.Outage)
		}
		for _, fl := range plan {
			if fl.Kind != Kill {
				continue
			}
			if fl.For < time.Second || fl.For > 5*time.Second {
				t.Fatalf("seed %d: a consumer dead for %s, want 1-5 s", seed, fl.For)
			}
			if fl.Member < 1 || fl.Member > 3 || fl.Member > 1 && (fl.At < up || fl.At+fl.For >= down) {
				t.Fatalf("seed %d: SIGKILL of consumer %d at %s for %s, not a member then (%s-%s)", seed, fl.Member, fl.At, fl.For, up, down)
			}
		}
	}
	for seed := uint64(1); seed <= 200; seed++ {
		f(Full, seed)
		f(Short, seed)
	}
	f(Profile{Load: 40 * time.Second, Kills: 20, Outage: 10 * time.Second}, 7)
	if slices.Equal(Plan(Full, 1), Plan(Full, 2)) {
		t.Fatal("seeds 1 and 2 give the same plan")
	}
}

func TestSummary(t *testing.T) {
	f := func(faults []Fault, want string) {
		t.Helper()
		if got := Summary(faults); got != want {
			t.Fatalf("Summary:\n got %s\nwant %s", got, want)
		}
	}
	f(nil, "0 SIGKILLs, ClickHouse stopped 0 time(s), 0 s in all, 0 broker restart(s), scale none")
	f([]Fault{{Kind: ScaleUp}, {Kind: Kill}, {Kind: ClickHouseStop, For: 61400 * time.Millisecond}, {Kind: Kill}},
		"2 SIGKILLs, ClickHouse stopped 1 time(s), 61 s in all, 0 broker restart(s), scale 1 -> 3")
	f([]Fault{{Kind: ScaleUp}, {Kind: ScaleDown}, {Kind: BrokerRestart}},
		"0 SIGKILLs, ClickHouse stopped 0 time(s), 0 s in all, 1 broker restart(s), scale 1 -> 3 -> 1")
}

func TestPlanCluster(t *testing.T) {
	f := func(p Profile, seed uint64) {
		t.Helper()
		plan := PlanCluster(p, seed)
		if again := PlanCluster(p, seed); !slices.Equal(plan, again) {
			t.Fatalf("seed %d: two plans differ:\n%v\n%v", seed, plan, again)
		}
		if n := Counts(plan); n != [kinds]int{Kill: p.Kills, ReplicaKill: 1, BrokerKill: 1} {
			t.Fatalf("seed %d: %v of each kind", seed, n)
		}
		long := 0
		for i, fl := range plan {
			if i > 0 && fl.At < plan[i-1].At {
				t.Fatalf("seed %d: fault %d at %s before fault %d", seed, i, fl.At, i-1)
			}
			if fl.At <= 0 || fl.At+fl.For >= p.Load+LongKill {
				t.Fatalf("seed %d: %s at %s for %s, outside the %s of load", seed, fl.Kind, fl.At, fl.For, p.Load)
			}
			switch fl.Kind {
			case ReplicaKill:
				if fl.Member < 1 || fl.Member > 3 || fl.For != p.Outage {
					t.Fatalf("seed %d: %s", seed, fl)
				}
			case BrokerKill:
				if fl.Member < 1 || fl.Member > clusterBrokers || fl.For < 5*time.Second || fl.For > 10*time.Second {
					t.Fatalf("seed %d: %s", seed, fl)
				}
			case Kill:
				if fl.Member < 1 || fl.Member > 3 {
					t.Fatalf("seed %d: %s", seed, fl)
				}
				if fl.For == LongKill {
					long++
				}
			}
		}
		if long != min(1, p.Kills) {
			t.Fatalf("seed %d: %d long kills, want one", seed, long)
		}
	}
	for seed := uint64(1); seed < 50; seed++ {
		f(ClusterProfile, seed)
	}
	if plan := PlanCluster(ClusterBench, 1); len(plan) != 0 {
		t.Fatalf("the bench profile plans faults: %v", plan)
	}
}
