package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// jsonReport is the --json document. Field names are a contract with whoever reads it: extend,
// never rename.
type jsonReport struct {
	Space   string `json:"space"`
	From    string `json:"from"`
	To      string `json:"to"`
	Seconds int64  `json:"seconds"`

	PeakConcurrency int64  `json:"peak_concurrency"`
	PeakAt          string `json:"peak_at"`
	ListenersBefore int64  `json:"listeners_before"`
	ListenersAfter  int64  `json:"listeners_after"`

	JoinAttempts         int64    `json:"join_attempts"`
	Joins                int64    `json:"joins"`
	JoinFailures         int64    `json:"join_failures"`
	BusinessJoinFailures int64    `json:"business_join_failures"`
	JoinFailureRate      *float64 `json:"join_failure_rate"`
	Leaves               int64    `json:"leaves"`
	SessionErrors        int64    `json:"session_errors"`

	UniqueListeners    int64    `json:"unique_listeners"`
	UsersAttempting    int64    `json:"users_attempting"`
	UsersFailed        int64    `json:"users_failed"`
	PerUserFailureRate *float64 `json:"per_user_failure_rate"`
	RetryAmplification *float64 `json:"retry_amplification"`

	JoinLatencySamples int64  `json:"join_latency_samples"`
	JoinLatencyP50     *int64 `json:"join_latency_p50_ms"`
	JoinLatencyP95     *int64 `json:"join_latency_p95_ms"`
	JoinLatencyP99     *int64 `json:"join_latency_p99_ms"`

	ListeningSeconds            int64    `json:"listening_seconds"`
	ListenerMinutes             float64  `json:"listener_minutes"`
	SessionsListening           int64    `json:"sessions_listening"`
	MidSessionDrops             int64    `json:"mid_session_drops"`
	DropsPer1000ListenerMinutes *float64 `json:"drops_per_1000_listener_minutes"`

	MinAttempts           int             `json:"min_attempts_for_rate"`
	Concurrency           [][2]int64      `json:"concurrency"`
	FailureRatePerMinute  []jsonMinute    `json:"failure_rate_per_minute"`
	FailuresByCode        []jsonBreakdown `json:"failures_by_code"`
	FailuresByCodeMinutes string          `json:"failures_by_code_window"`
	AlertRule             jsonAlertRule   `json:"alert_rule"`
	Alerts                []jsonAlert     `json:"alerts"`
	// IngestWatermark is what the consumers had landed (null: no consumer recorded progress, every
	// minute taken as complete); AlertIncompleteMinutes the last minutes not judged because of it.
	Pages                  []jsonPage `json:"pages"`
	IngestWatermark        *string    `json:"ingest_watermark"`
	AlertIncompleteMinutes int        `json:"alert_incomplete_minutes"`
}

// jsonAlertRule is warehouse.AlertRule: over threshold for `for_minutes` minutes, each with at
// least min_attempts attempts.
type jsonAlertRule struct {
	Threshold       float64 `json:"threshold"`
	ForMinutes      int     `json:"for_minutes"`
	MinAttempts     int64   `json:"min_attempts"`
	LatenessSeconds int     `json:"lateness_seconds"`
}

// jsonPage is one of the other pages (retry amplification, a fall of listeners) and its firings.
type jsonPage struct {
	Rule   string      `json:"rule"`
	Alerts []jsonAlert `json:"alerts"`
}

// jsonAlert is one firing; cleared_at is null when the alert was still firing at the window's end.
type jsonAlert struct {
	FiredAt   string  `json:"fired_at"`
	ClearedAt *string `json:"cleared_at"`
}

type jsonMinute struct {
	Minute            string   `json:"minute"`
	Attempts          int64    `json:"attempts"`
	TechnicalFailures int64    `json:"technical_failures"`
	BusinessFailures  int64    `json:"business_failures"`
	Rate              *float64 `json:"rate"` // null: fewer than min_attempts_for_rate attempts
}

type jsonBreakdown struct {
	Code              string `json:"code"`
	TechnicalFailures int64  `json:"technical_failures"`
	BusinessFailures  int64  `json:"business_failures"`
	SessionErrors     int64  `json:"session_errors"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// WriteJSON writes r as one JSON document (see jsonReport for the fields).
func (r *Report) WriteJSON(w io.Writer) error {
	s := r.Summary
	doc := jsonReport{
		Space: s.Space, From: rfc3339(s.From), To: rfc3339(s.To), Seconds: int64(s.To.Sub(s.From)/time.Second) + 1,
		PeakConcurrency: s.Peak.Listeners, PeakAt: rfc3339(s.Peak.Time),
		ListenersBefore: s.ListenersBefore, ListenersAfter: s.ListenersAfter,
		JoinAttempts: s.JoinAttempts, Joins: s.Joins, JoinFailures: s.JoinFailures,
		BusinessJoinFailures: s.BusinessJoinFailures, JoinFailureRate: s.JoinFailureRate,
		Leaves: s.Leaves, SessionErrors: s.SessionErrors,
		UniqueListeners: s.UniqueListeners, UsersAttempting: s.UsersAttempting, UsersFailed: s.UsersFailed,
		PerUserFailureRate: s.PerUserFailureRate, RetryAmplification: s.RetryAmplification,
		JoinLatencySamples: s.JoinLatencySamples,
		JoinLatencyP50:     s.JoinLatencyP50, JoinLatencyP95: s.JoinLatencyP95, JoinLatencyP99: s.JoinLatencyP99,
		ListeningSeconds: s.ListeningSeconds, ListenerMinutes: float64(s.ListeningSeconds) / 60,
		SessionsListening: s.SessionsListening, MidSessionDrops: s.MidSessionDrops,
		DropsPer1000ListenerMinutes: s.DropsPer1000ListenerMinutes,
		MinAttempts:                 warehouse.MinAttempts,
		Concurrency:                 make([][2]int64, 0, len(r.Concurrency)),
		FailureRatePerMinute:        make([]jsonMinute, 0, len(r.FailureRate)),
		FailuresByCode:              make([]jsonBreakdown, 0, len(r.FailuresByCode)),
		FailuresByCodeMinutes: rfc3339(s.From.Truncate(time.Minute)) + "/" +
			rfc3339(s.To.Truncate(time.Minute).Add(time.Minute-time.Second)),
	}
	doc.AlertRule = jsonAlertRule{Threshold: r.Rule.Threshold, ForMinutes: r.Rule.For, MinAttempts: r.Rule.MinAttempts,
		LatenessSeconds: int(r.Rule.Lateness / time.Second)}
	if r.Watermark.Known {
		wm := rfc3339(r.Watermark.At)
		doc.IngestWatermark = &wm
	}
	doc.AlertIncompleteMinutes = incompleteMinutes(r.AlertMinutes)
	doc.Alerts = jsonAlerts(r.Alerts)
	doc.Pages = make([]jsonPage, 0, len(r.Pages))
	for _, pg := range r.Pages {
		doc.Pages = append(doc.Pages, jsonPage{Rule: pg.Rule.Name, Alerts: jsonAlerts(pg.Alerts)})
	}
	for _, p := range r.Concurrency {
		doc.Concurrency = append(doc.Concurrency, [2]int64{p.Time.Unix(), p.Listeners})
	}
	for _, b := range r.FailureRate {
		doc.FailureRatePerMinute = append(doc.FailureRatePerMinute, jsonMinute{
			Minute: rfc3339(b.Start), Attempts: b.Attempts, TechnicalFailures: b.TechnicalFailures,
			BusinessFailures: b.BusinessFailures, Rate: b.Rate,
		})
	}
	for _, b := range errorCodes(r.FailuresByCode) {
		doc.FailuresByCode = append(doc.FailuresByCode, jsonBreakdown{
			Code: b.Value, TechnicalFailures: b.TechnicalFailures, BusinessFailures: b.BusinessFailures,
			SessionErrors: b.SessionErrors,
		})
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// errorCodes drops the row of events without a code (joins and leaves).
func errorCodes(rows []warehouse.Breakdown) []warehouse.Breakdown {
	var out []warehouse.Breakdown
	for _, b := range rows {
		if b.Value != "" {
			out = append(out, b)
		}
	}
	return out
}

// WriteText writes r as a short table for people.
func (r *Report) WriteText(w io.Writer) error {
	s := r.Summary
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{label}, args...)...)
	}
	line("space", "%s", s.Space)
	line("window", "%s .. %s (%s)", rfc3339(s.From), rfc3339(s.To), s.To.Sub(s.From)+time.Second)
	line("peak concurrency", "%s listeners at %s", num(s.Peak.Listeners), rfc3339(s.Peak.Time))
	line("listeners", "%s at the start, %s at the end", num(s.ListenersBefore), num(s.ListenersAfter))
	line("join attempts", "%s by %s users (%s attempts per user)", num(s.JoinAttempts), num(s.UsersAttempting), ratio(s.RetryAmplification, 2))
	line("join failures", "%s technical, %s business (not paged)", num(s.JoinFailures), num(s.BusinessJoinFailures))
	line("join failure rate", "%s per attempt, %s per user", pct(s.JoinFailureRate, "not enough data"), pct(s.PerUserFailureRate, "n/a"))
	line("users never in", "%s of %s users attempting", num(s.UsersFailed), num(s.UsersAttempting))
	line("unique listeners", "%s", num(s.UniqueListeners))
	line("join latency", "p50 %s, p95 %s, p99 %s (%s joins with a latency)", ms(s.JoinLatencyP50), ms(s.JoinLatencyP95), ms(s.JoinLatencyP99), num(s.JoinLatencySamples))
	line("listening time", "%s listener-hours in %s sessions", strconv.FormatFloat(float64(s.ListeningSeconds)/3600, 'f', 1, 64), num(s.SessionsListening))
	line("mid-session drops", "%s (%s per 1,000 listener-minutes)", num(s.MidSessionDrops), ratio(s.DropsPer1000ListenerMinutes, 2))
	line("session errors", "%s", num(s.SessionErrors))
	var alerting, measured int
	for _, b := range r.FailureRate {
		if b.Rate != nil {
			measured++
			if *b.Rate > 0.05 {
				alerting++
			}
		}
	}
	line("minutes > 5 % failing", "%d of %d minutes with >= %d attempts", alerting, measured, warehouse.MinAttempts)
	rule := fmt.Sprintf("> %s for %d min", pct(&r.Rule.Threshold, ""), r.Rule.For)
	if len(r.Alerts) == 0 {
		line("alert ("+rule+")", "never fired")
	}
	for i, a := range r.Alerts {
		label := ""
		if i == 0 {
			label = "alert (" + rule + ")"
		}
		if a.ClearedAt.IsZero() {
			line(label, "fired %s, still firing at the end (%s so far)", rfc3339(a.FiredAt), s.To.Add(time.Second).Sub(a.FiredAt))
		} else {
			line(label, "fired %s, cleared %s (%s)", rfc3339(a.FiredAt), rfc3339(a.ClearedAt), a.ClearedAt.Sub(a.FiredAt))
		}
	}
	for _, pg := range r.Pages {
		label := "page (" + pg.Rule.Name + ")"
		if len(pg.Alerts) == 0 {
			worst := ""
			if w := pg.Worst(); w != nil {
				worst = fmt.Sprintf(" (largest %.3g in minute %s)", *w.Value, rfc3339(w.Start))
			}
			line(label, "never fired%s", worst)
		}
		for i, a := range pg.Alerts {
			if i > 0 {
				label = ""
			}
			if a.ClearedAt.IsZero() {
				line(label, "fired %s, still firing at the end", rfc3339(a.FiredAt))
			} else {
				line(label, "fired %s, cleared %s (%s)", rfc3339(a.FiredAt), rfc3339(a.ClearedAt), a.ClearedAt.Sub(a.FiredAt))
			}
		}
	}
	if n := incompleteMinutes(r.AlertMinutes); n > 0 && r.Watermark.Known {
		line("", "last %d min not judged (yet): the window ends inside them or the consumers have landed events only up to %s (+%s lateness)",
			n, rfc3339(r.Watermark.At), r.Rule.Lateness)
	} else if n > 0 {
		line("", "last minute not judged: the window ends inside it")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	codes := errorCodes(r.FailuresByCode)
	if len(codes) == 0 {
		return nil
	}
	fmt.Fprintf(tw, "\nerror code (whole minutes)\ttechnical\tbusiness\tin session\n")
	for _, b := range codes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Value, num(b.TechnicalFailures), num(b.BusinessFailures), num(b.SessionErrors))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// num formats n with thousands separators: 1,300,000.
func num(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)

// pct formats a ratio as a percentage, or none when it is nil.
func pct(r *float64, none string) string {
	if r == nil {
		return none
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + " %"
}

func ratio(r *float64, digits int) string {
	if r == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*r, 'f', digits, 64)
}

func ms(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return num(*v) + " ms"
}

// incompleteMinutes counts the minutes the alert rule has not judged yet (the last ones).
func incompleteMinutes(ms []warehouse.AlertMinute) int {
	n := 0
	for _, m := range ms {
		if !m.Complete {
			n++
		}
	}
	return n
}

func jsonAlerts(as []warehouse.AlertTransition) []jsonAlert {
	out := make([]jsonAlert, 0, len(as))
	for _, a := range as {
		ja := jsonAlert{FiredAt: rfc3339(a.FiredAt)}
		if !a.ClearedAt.IsZero() {
			cleared := rfc3339(a.ClearedAt)
			ja.ClearedAt = &cleared
		}
		out = append(out, ja)
	}
	return out
}
