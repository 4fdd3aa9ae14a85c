import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getGrafanaLiveSrv, getTemplateSrv } from '@grafana/runtime';
import { Observable, switchMap } from 'rxjs';

import { withLive } from './live';

import { quoteSQLValues } from './sqlquote';
import { SpacePulseOptions, SpacePulseQuery, VariableQuery, defaultQuery, validateQuery } from './types';

export class DataSource extends DataSourceWithBackend<SpacePulseQuery, SpacePulseOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<SpacePulseOptions>) {
    super(instanceSettings);
  }

  /**
   * Live concurrency frames (meta.custom.live) are merged here with their channel's pushes by
   * time, a re-sent second replacing the old value (see live.ts for why not Grafana's own
   * StreamingDataFrame).
   */
  query(request: DataQueryRequest<SpacePulseQuery>): Observable<DataQueryResponse> {
    return super.query(request).pipe(switchMap((rsp) => withLive(rsp, request, getGrafanaLiveSrv())));
  }

  getDefaultQuery(_: CoreApp): Partial<SpacePulseQuery> {
    return defaultQuery;
  }

  /** Dashboard variables: $room in rooms and raw SQL is replaced here; the backend binds it. */
  applyTemplateVariables(query: SpacePulseQuery, scopedVars: ScopedVars): SpacePulseQuery {
    const t = getTemplateSrv();
    const rooms = (query.rooms ?? []).flatMap((r) => t.replace(r, scopedVars, 'csv').split(',')).filter((r) => r !== '');
    return {
      ...query,
      rooms,
      rawSql: query.rawSql ? t.replace(query.rawSql, scopedVars, quoteSQLValues) : query.rawSql,
    };
  }

  filterQuery(query: SpacePulseQuery): boolean {
    return !query.hide && validateQuery(query) === undefined;
  }

  /** Room list for pickers, from the rooms resource. */
  async rooms(from?: number, to?: number): Promise<string[]> {
    const params: Record<string, string> = {};
    if (from !== undefined && to !== undefined) {
      params.from = String(from);
      params.to = String(to);
    }
    const rows: Array<{ room: string }> = await this.getResource('rooms', params);
    return rows.map((r) => r.room);
  }

  async metricFindQuery(query: VariableQuery, options?: any): Promise<MetricFindValue[]> {
    const range = options?.range;
    const params: Record<string, string> = {};
    if (range) {
      params.from = String(range.from.valueOf());
      params.to = String(range.to.valueOf());
    }
    if (query.limit) {
      params.limit = String(query.limit);
    }
    if (query.kind === 'values') {
      params.dimension = query.dimension ?? 'client';
      params.room = getTemplateSrv().replace(query.room ?? '', options?.scopedVars);
      const values: string[] = await this.getResource('values', params);
      return values.map((text) => ({ text }));
    }
    const rows: Array<{ room: string }> = await this.getResource('rooms', params);
    return rows.map((r) => ({ text: r.room }));
  }
}
