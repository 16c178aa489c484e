// Minimal types for Ghost's NQL parser (the package ships none).
declare module '@tryghost/nql' {
  interface NqlQuery {
    parse(): Record<string, unknown>;
    queryJSON(object: unknown): boolean;
  }
  function nql(text: string, options?: Record<string, unknown>): NqlQuery;
  export default nql;
}
