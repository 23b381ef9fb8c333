export declare const DERIVED_HEADER: string;
export declare function derivePostgresSchema(sqliteSchema: string): string;
