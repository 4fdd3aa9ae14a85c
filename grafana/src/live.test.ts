import {
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  FieldType,
  LiveChannelAddress,
  LiveChannelConnectionState,
  LiveChannelEvent,
  LiveChannelEventType,
  LoadingState,
  createDataFrame,
  dataFrameToJSON,
  dateTime,
} from '@grafana/data';
import { Subject } from 'rxjs';

import { LiveCurve, LiveMeta, liveMetaOf, withLive } from './live';

const T0 = Date.UTC(2024, 7, 13, 0, 40, 0); // a multiple of every step below
const s = (n: number) => T0 + n * 1000;
const channel = 'ds/spacepulse/concurrency/cm9vbQ';

function curveFrame(times: number[], values: number[], live?: Partial<LiveMeta>): DataFrame {
  return createDataFrame({
    name: 'concurrency',
    refId: 'A',
    meta: live ? { custom: { live: { channel, stepSeconds: 1, reduce: 'peak', windowSeconds: 630, ...live } } } : undefined,
    fields: [
      { name: 'time', type: FieldType.time, values: times },
      { name: 'listeners', type: FieldType.number, values, labels: { room: 'room' }, config: { displayNameFromDS: 'room' } },
    ],
  });
}

function rows(f: DataFrame): Array<[number, number]> {
  return f.fields[0].values.map((t: number, i: number) => [(t - T0) / 1000, f.fields[1].values[i]]);
}

const follow = { from: s(-3600), to: s(4), follow: true };

describe('LiveCurve', () => {
  it('replaces a re-sent second instead of adding a point', () => {
    const c = new LiveCurve(curveFrame([s(0), s(1), s(2), s(3), s(4)], [1, 2, 3, 4, 5]), liveMetaOf(curveFrame([], [], {}))!, follow);
    c.push(curveFrame([s(2), s(5)], [9, 10])); // second 2 corrected by a late join, second 5 new
    expect(rows(c.frame())).toEqual([[0, 1], [1, 2], [2, 9], [3, 4], [4, 5], [5, 10]]);
    c.push(curveFrame([s(2), s(3), s(4), s(5)], [9, 5, 6, 11])); // a late join at 3 moves every later second
    c.push(curveFrame([s(2)], [7])); // and a late leave at 2
    const f = c.frame();
    expect(rows(f)).toEqual([[0, 1], [1, 2], [2, 7], [3, 5], [4, 6], [5, 11]]);
    expect(f.length).toBe(6);
    expect(f.fields[1].labels).toEqual({ room: 'room' });
    expect(f.refId).toBe('A');
  });

  it('folds pushed seconds into the buckets by peak', () => {
    const meta = liveMetaOf(curveFrame([], [], { stepSeconds: 5 }))!;
    // query to at second 7: bucket 5 only saw seconds 5..7
    const c = new LiveCurve(curveFrame([s(0), s(5)], [10, 12]), meta, { ...follow, to: s(7) });
    c.push(curveFrame([s(9)], [9])); // part of bucket 5 only: cannot lower what the query saw
    expect(rows(c.frame())).toEqual([[0, 10], [5, 12]]);
    c.push(curveFrame([s(5), s(6), s(7), s(8), s(9)], [11, 11, 11, 13, 12]));
    expect(rows(c.frame())).toEqual([[0, 10], [5, 13]]);
    c.push(curveFrame([s(8)], [11])); // a late leave: the whole bucket is pushed, so the peak comes down
    c.push(curveFrame([s(10)], [14])); // a new bucket
    expect(rows(c.frame())).toEqual([[0, 10], [5, 12], [10, 14]]);
  });

  it('folds pushed seconds into the buckets by last', () => {
    const meta = liveMetaOf(curveFrame([], [], { stepSeconds: 5, reduce: 'last' }))!;
    const c = new LiveCurve(curveFrame([s(0), s(5)], [10, 12]), meta, { ...follow, to: s(7) });
    c.push(curveFrame([s(6)], [11])); // older than the query's last second of the bucket (7)
    expect(rows(c.frame())).toEqual([[0, 10], [5, 12]]);
    c.push(curveFrame([s(8)], [15]));
    expect(rows(c.frame())).toEqual([[0, 10], [5, 15]]);
  });

  it('slides a range that ends now and keeps settled buckets', () => {
    const meta = liveMetaOf(curveFrame([], [], { windowSeconds: 2 }))!;
    const c = new LiveCurve(curveFrame([s(0), s(1), s(2)], [1, 2, 3]), meta, { from: s(-2), to: s(2), follow: true });
    c.push(curveFrame([s(3), s(4), s(5), s(6)], [4, 5, 6, 7]));
    expect(rows(c.frame())).toEqual([[2, 3], [3, 4], [4, 5], [5, 6], [6, 7]]);
    c.push(curveFrame([s(5)], [8]));
    expect(rows(c.frame())).toEqual([[2, 3], [3, 4], [4, 5], [5, 8], [6, 7]]);
  });

  it('ignores pushes outside a range that does not end now', () => {
    const c = new LiveCurve(curveFrame([s(0), s(1)], [1, 2]), liveMetaOf(curveFrame([], [], {}))!, { from: s(0), to: s(1), follow: false });
    c.push(curveFrame([s(1), s(2)], [3, 4]));
    expect(rows(c.frame())).toEqual([[0, 1], [1, 3]]);
  });
});

describe('withLive', () => {
  const request = {
    range: { from: dateTime(s(-3600)), to: dateTime(s(2)), raw: { from: 'now-1h', to: 'now' } },
    rangeRaw: { from: 'now-1h', to: 'now' },
  } as unknown as DataQueryRequest;

  it('merges every push of the channel into the frame and emits the whole response again', () => {
    const events = new Subject<LiveChannelEvent<unknown>>();
    const addrs: LiveChannelAddress[] = [];
    const live = {
      getStream: <T,>(a: LiveChannelAddress) => {
        addrs.push(a);
        return events.asObservable() as any;
      },
    };
    const other = curveFrame([s(0)], [42]);
    other.refId = 'B';
    const rsp: DataQueryResponse = { data: [curveFrame([s(0), s(1), s(2)], [1, 2, 3], {}), other] };
    const got: DataQueryResponse[] = [];
    const sub = withLive(rsp, request, live).subscribe((r) => got.push(r));
    expect(addrs).toMatchObject([{ scope: 'ds', path: 'concurrency/cm9vbQ' }]);
    expect(got).toHaveLength(1);
    expect(got[0].state).toBe(LoadingState.Streaming);
    expect(rows(got[0].data[0])).toEqual([[0, 1], [1, 2], [2, 3]]);

    // the channel's last push, replayed on subscribe, then pushes with corrections
    events.next({ type: LiveChannelEventType.Status, id: channel, timestamp: 0, state: LiveChannelConnectionState.Connected, message: dataFrameToJSON(curveFrame([s(2)], [3])) });
    events.next({ type: LiveChannelEventType.Message, message: dataFrameToJSON(curveFrame([s(1), s(3)], [5, 6])) });
    events.next({ type: LiveChannelEventType.Message, message: dataFrameToJSON(curveFrame([s(3)], [7])) });
    const last = got[got.length - 1];
    expect(rows(last.data[0])).toEqual([[0, 1], [1, 5], [2, 3], [3, 7]]);
    expect(rows(last.data[1])).toEqual([[0, 42]]); // the other query's frame as it was
    expect(last.error).toBeUndefined();

    events.next({ type: LiveChannelEventType.Status, id: channel, timestamp: 0, state: LiveChannelConnectionState.Disconnected, error: 'gone' });
    expect(got[got.length - 1].error?.message).toContain('gone');
    sub.unsubscribe();
    expect(events.observed).toBe(false);
  });

  it('returns a response without live frames as it is', () => {
    const rsp: DataQueryResponse = { data: [curveFrame([s(0)], [1])] };
    const got: DataQueryResponse[] = [];
    withLive(rsp, request, { getStream: () => new Subject<any>() }).subscribe((r) => got.push(r));
    expect(got).toEqual([rsp]);
  });
});
