import {
  DataFrame,
  DataFrameJSON,
  DataQueryRequest,
  DataQueryResponse,
  Field,
  FieldType,
  LiveChannelAddress,
  LiveChannelEvent,
  LoadingState,
  dataFrameFromJSON,
  isLiveChannelMessageEvent,
  isLiveChannelStatusEvent,
  parseLiveChannelAddress,
} from '@grafana/data';
import { Observable, Subscription, of } from 'rxjs';

/**
 * meta.custom.live of a live concurrency frame (pkg/plugin/stream.go LiveMeta). The channel is
 * not in meta.channel on purpose: there DataSourceWithBackend would append every push to a
 * StreamingDataFrame (action append: a re-sent second becomes a second point at the same time,
 * and the re-sent windows push the queried history out of its maxLength rows; action replace: the
 * history is dropped and, while the tab is hidden, intermediate pushes too). LiveCurve merges the
 * pushes itself.
 */
export interface LiveMeta {
  channel: string;
  /** Bucket length of the frame in seconds; pushes are per second. */
  stepSeconds: number;
  reduce: 'peak' | 'last';
  /** How far back (seconds) a push may still correct a second. */
  windowSeconds: number;
}

export function liveMetaOf(frame: DataFrame): LiveMeta | undefined {
  const m = frame.meta?.custom?.live;
  if (!m || typeof m.channel !== 'string' || !(m.stepSeconds >= 1)) {
    return undefined;
  }
  return { channel: m.channel, stepSeconds: m.stepSeconds, reduce: m.reduce === 'last' ? 'last' : 'peak', windowSeconds: m.windowSeconds ?? 0 };
}

/** The panel's time range in epoch ms; follow when it ends at "now" (the curve slides). */
export interface LiveRange {
  from: number;
  to: number;
  follow: boolean;
}

function columns(frame: DataFrame): { time?: Field; value?: Field } {
  return {
    time: frame.fields.find((f) => f.type === FieldType.time),
    value: frame.fields.find((f) => f.type === FieldType.number),
  };
}

/**
 * LiveCurve is one room's curve on a live panel: the query's buckets merged with the stream's
 * per-second pushes by time. A second pushed again replaces the value it had (RunStream re-sends
 * the seconds late events moved); seconds are folded into the frame's buckets by peak or last.
 */
export class LiveCurve {
  private readonly step: number; // ms
  private readonly buckets = new Map<number, number>(); // bucket start (ms) -> value, from the query and folded seconds
  private readonly seconds = new Map<number, number>(); // second (ms) -> listeners, as last pushed
  private readonly queryTo: number; // the last second the query's buckets cover
  private newest = -Infinity;

  constructor(
    private readonly base: DataFrame,
    private readonly meta: LiveMeta,
    private readonly range: LiveRange
  ) {
    this.step = meta.stepSeconds * 1000;
    this.queryTo = Math.floor(range.to / 1000) * 1000;
    const { time, value } = columns(base);
    for (let i = 0; i < (time?.values.length ?? 0); i++) {
      this.buckets.set(time!.values[i], value!.values[i]);
      this.newest = Math.max(this.newest, time!.values[i]);
    }
  }

  /** push merges one frame of the stream; false when it held no row. */
  push(frame: DataFrame): boolean {
    const { time, value } = columns(frame);
    if (!time || !value || time.values.length === 0) {
      return false;
    }
    for (let i = 0; i < time.values.length; i++) {
      const t = time.values[i];
      if (!this.range.follow && (t < this.range.from || t > this.range.to)) {
        continue;
      }
      this.seconds.set(t, value.values[i]);
      this.newest = Math.max(this.newest, t);
    }
    this.settle();
    return true;
  }

  /** settle folds the buckets no push can correct any more into the query's, and trims a following range. */
  private settle() {
    const final = this.newest - this.meta.windowSeconds * 1000 - this.step;
    const done = new Map<number, Array<[number, number]>>();
    for (const [t, v] of this.seconds) {
      const b = this.bucketOf(t);
      if (b + this.step <= final) {
        addRow(done, b, t, v);
        this.seconds.delete(t);
      }
    }
    for (const [b, rows] of done) {
      this.buckets.set(b, this.fold(b, rows));
    }
    if (this.range.follow) {
      const oldest = this.newest - (this.range.to - this.range.from);
      for (const b of this.buckets.keys()) {
        if (b + this.step <= oldest) {
          this.buckets.delete(b);
        }
      }
    }
  }

  private bucketOf(t: number): number {
    return Math.floor(t / this.step) * this.step;
  }

  /** fold is a bucket's value from its pushed seconds and the query's value for it. */
  private fold(b: number, rows: Array<[number, number]>): number {
    const base = this.buckets.get(b);
    const whole = rows.length * 1000 >= this.step;
    if (this.meta.reduce === 'last') {
      let [lt, lv] = rows[0];
      for (const [t, v] of rows) {
        if (t > lt) {
          [lt, lv] = [t, v];
        }
      }
      const baseLast = Math.min(b + this.step - 1000, this.queryTo);
      return base !== undefined && !whole && baseLast > lt ? base : lv;
    }
    const peak = rows.reduce((m, [, v]) => Math.max(m, v), -Infinity);
    return base !== undefined && !whole ? Math.max(base, peak) : peak;
  }

  /** frame is the merged curve: one row per bucket, in time order, fields as the query's. */
  frame(): DataFrame {
    const pending = new Map<number, Array<[number, number]>>();
    for (const [t, v] of this.seconds) {
      addRow(pending, this.bucketOf(t), t, v);
    }
    const merged = new Map(this.buckets);
    for (const [b, rows] of pending) {
      merged.set(b, this.fold(b, rows));
    }
    const times = [...merged.keys()].sort((a, b) => a - b);
    const { time, value } = columns(this.base);
    const fields = [
      { ...(time ?? { name: 'time', type: FieldType.time, config: {} }), values: times },
      { ...(value ?? { name: 'listeners', type: FieldType.number, config: {} }), values: times.map((t) => merged.get(t)!) },
    ];
    return { ...this.base, fields, length: times.length };
  }
}

function addRow(m: Map<number, Array<[number, number]>>, b: number, t: number, v: number) {
  const rows = m.get(b);
  if (rows) {
    rows.push([t, v]);
  } else {
    m.set(b, [[t, v]]);
  }
}

/** The part of GrafanaLiveSrv withLive uses. */
export interface LiveStreams {
  getStream<T>(address: LiveChannelAddress): Observable<LiveChannelEvent<T>>;
}

/**
 * withLive turns a query response with live concurrency frames into a streaming response: each
 * such frame is merged with its channel's pushes (LiveCurve) and the whole response is emitted
 * again after every push. A response without live frames (or without Grafana Live) is returned as is.
 */
export function withLive(rsp: DataQueryResponse, request: DataQueryRequest, live: LiveStreams | undefined): Observable<DataQueryResponse> {
  const frames: DataFrame[] = rsp.data ?? [];
  const metas = frames.map(liveMetaOf);
  if (!live || metas.every((m) => m === undefined)) {
    return of(rsp);
  }
  const range: LiveRange = {
    from: request.range.from.valueOf(),
    to: request.range.to.valueOf(),
    follow: request.rangeRaw?.to === 'now',
  };
  return new Observable<DataQueryResponse>((subscriber) => {
    const curves = frames.map((f, i) => (metas[i] ? new LiveCurve(f, metas[i]!, range) : undefined));
    let error: DataQueryResponse['error'];
    const emit = () =>
      subscriber.next({ ...rsp, data: frames.map((f, i) => curves[i]?.frame() ?? f), state: LoadingState.Streaming, error });
    const subs: Subscription[] = [];
    curves.forEach((curve, i) => {
      const addr = curve && parseLiveChannelAddress(metas[i]!.channel);
      if (!curve || !addr) {
        return;
      }
      subs.push(
        live.getStream<DataFrameJSON>(addr).subscribe({
          next: (evt) => {
            let msg: DataFrameJSON | undefined;
            if (isLiveChannelMessageEvent(evt)) {
              msg = evt.message;
            } else if (isLiveChannelStatusEvent(evt)) {
              msg = evt.message; // the subscription's initial data, or the channel's last push
              const next = evt.error ? { message: `Streaming channel error: ${String(evt.error)}` } : undefined;
              if (next?.message !== error?.message) {
                error = next;
                emit();
              }
            }
            if (msg?.schema && msg.data && curve.push(dataFrameFromJSON(msg))) {
              emit();
            }
          },
          error: (err) => subscriber.error(err),
        })
      );
    });
    emit();
    return () => subs.forEach((s) => s.unsubscribe());
  });
}
