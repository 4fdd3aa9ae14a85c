package ingest

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// GroupConfig holds the consumer group's timeouts and the lag poller's settings. The zero value
// of a field means its default; every field is plain so that a binary's main binds it to a flag.
//
// The defaults are chosen for a member that crash-loops (a pod killed and restarted every few
// seconds): a killed member keeps its partitions, and holds every rebalance, until its session
// times out, so the session is as short as the broker allows, and heartbeats are frequent enough
// that a live member does not miss it. Measured with TestCrashLoopCommitRate (3 real consumers,
// 2,000 events/s over 6 partitions, one member SIGKILLed and restarted every 5 s for 2 minutes;
// undisturbed 2,001/s committed): kgo's defaults (session 45 s, heartbeat 3 s) 111/s (6 %);
// session 10 s 682 and 948/s (34 %, 47 %); session 6 s 1,901 and 1,537/s (95 %, 77 %); session
// 10 s with static members (InstanceID) 2,000/s (100 %). Where members can crash-loop, give each
// a stable InstanceID.
type GroupConfig struct {
	// SessionTimeout is how long the broker keeps a member that stopped heartbeating (a killed
	// process) in the group, with its partitions unread and every rebalance waiting for it
	// (default 6s, the broker's least by default: see the figures above; kgo's 45s and kafka-go's
	// 30s left a crash-looping group committing almost nothing). The broker bounds it by
	// group.min.session.timeout.ms and group.max.session.timeout.ms: a broker whose least is
	// higher refuses the join (INVALID_SESSION_TIMEOUT), so raise this to it.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats (default 1s: a member learns of a
	// rebalance at its next heartbeat, and 5 may be missed before a 6s session ends; at most a
	// third of SessionTimeout).
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the broker waits for every live member to rejoin once a
	// rebalance begins, after which it drops the late ones (default 20s: a member rejoins after
	// its revoked partitions' in-flight batches committed or RevokeWait passed, plus a commit).
	RebalanceTimeout time.Duration
	// MetadataMaxAge is how often the client refreshes the topic's metadata, which is how the
	// group finds partitions added to the topic (default 15s, so a new partition is read within
	// about 15s plus a rebalance; kgo's 5 minutes left it unread that long).
	MetadataMaxAge time.Duration
	// RevokeWait bounds how long a member whose partitions are revoked waits for the batches it
	// fetched from them to land and commit before it gives them up (default 3s, three batch ages:
	// the batches of a healthy consumer commit in about one). A batch that lands later is not
	// committed by this member (the new owner reads it again; see GroupReader).
	RevokeWait time.Duration

	// InstanceID, when set, makes this member static (KIP-345): it must be unique among the live
	// members and the same across restarts of one member (a StatefulSet's pod name). A static
	// member restarted within SessionTimeout takes its old assignment back without a rebalance,
	// so a crash-looping member stops only its own partitions, for as long as it is down; and it
	// does not leave the group when it stops, so its partitions wait SessionTimeout before they
	// move (default empty: a dynamic member, which leaves on a clean stop and joins anew).
	InstanceID string

	// LagInterval is how often the lag poller asks the broker for the end and committed offsets
	// of every partition (default 5s). The lag age is precise to about one interval.
	LagInterval time.Duration
	// ReadyMaxLag is the largest lag age (the oldest uncommitted message of any partition, in
	// seconds since the poller first saw it) at which /readyz still answers ready (default 5m).
	ReadyMaxLag time.Duration
}

// Defaults of GroupConfig.
const (
	DefaultSessionTimeout    = 6 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultRebalanceTimeout  = 20 * time.Second
	DefaultMetadataMaxAge    = 15 * time.Second
	DefaultRevokeWait        = 3 * time.Second
	DefaultLagInterval       = 5 * time.Second
	DefaultReadyMaxLag       = 5 * time.Minute
)

func (c *GroupConfig) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionTimeout, DefaultSessionTimeout)
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.RebalanceTimeout, DefaultRebalanceTimeout)
	def(&c.MetadataMaxAge, DefaultMetadataMaxAge)
	def(&c.RevokeWait, DefaultRevokeWait)
	def(&c.LagInterval, DefaultLagInterval)
	def(&c.ReadyMaxLag, DefaultReadyMaxLag)
}

// Validate reports the first setting that cannot work, in one line that names what to change.
func (c GroupConfig) Validate() error {
	c.setDefaults()
	switch {
	case c.SessionTimeout < 0 || c.HeartbeatInterval < 0 || c.RebalanceTimeout < 0 || c.MetadataMaxAge < 0 ||
		c.RevokeWait < 0 || c.LagInterval < 0 || c.ReadyMaxLag < 0:
		return fmt.Errorf("group timeouts must be positive: session %s, heartbeat %s, rebalance %s, metadata max age %s, revoke wait %s, lag interval %s, ready max lag %s",
			c.SessionTimeout, c.HeartbeatInterval, c.RebalanceTimeout, c.MetadataMaxAge, c.RevokeWait, c.LagInterval, c.ReadyMaxLag)
	case c.HeartbeatInterval*3 > c.SessionTimeout:
		return fmt.Errorf("heartbeat interval %s is more than a third of the session timeout %s: lower the heartbeat interval or raise the session timeout",
			c.HeartbeatInterval, c.SessionTimeout)
	case c.RevokeWait >= c.RebalanceTimeout:
		return fmt.Errorf("revoke wait %s is not below the rebalance timeout %s: the broker would drop the member while it waits; lower the revoke wait",
			c.RevokeWait, c.RebalanceTimeout)
	case c.MetadataMaxAge < time.Second:
		return fmt.Errorf("metadata max age %s: want at least 1s, such as 15s", c.MetadataMaxAge)
	}
	return nil
}

// options are the kgo options of c (defaulted).
func (c GroupConfig) options() []kgo.Opt {
	c.setDefaults()
	opts := []kgo.Opt{
		kgo.SessionTimeout(c.SessionTimeout),
		kgo.HeartbeatInterval(c.HeartbeatInterval),
		kgo.RebalanceTimeout(c.RebalanceTimeout),
		kgo.MetadataMaxAge(c.MetadataMaxAge),
		kgo.MetadataMinAge(min(c.MetadataMaxAge, 5*time.Second)),
	}
	if c.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.InstanceID))
	}
	return opts
}
