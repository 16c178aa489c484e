/**
 * Row types of every table, shared by both engines. Timestamps are ISO-8601 UTC strings with
 * milliseconds (they sort as text); booleans are 0/1 integers; JSON is text. One schema, one
 * query path.
 */

/** 0 or 1; both engines store booleans this way so rows look the same everywhere. */
export type Flag = 0 | 1;

export interface RolesTable {
  id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  name: string;
  slug: string;
  email: string;
  /** scrypt hash `scrypt$N$salt$hash`; null until setup. */
  password: string | null;
  status: string;
  role_id: string;
  profile_image: string | null;
  cover_image: string | null;
  bio: string | null;
  website: string | null;
  location: string | null;
  facebook: string | null;
  twitter: string | null;
  meta_title: string | null;
  meta_description: string | null;
  last_seen: string | null;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  /** SHA-256 of the cookie token, so a database leak cannot replay sessions. */
  id: string;
  user_id: string;
  origin: string;
  created_at: string;
  expires_at: string;
}

export interface PostsTable {
  id: string;
  uuid: string;
  type: 'post' | 'page';
  title: string;
  slug: string;
  lexical: string | null;
  html: string | null;
  plaintext: string | null;
  feature_image: string | null;
  feature_image_alt: string | null;
  feature_image_caption: string | null;
  featured: Flag;
  status: 'draft' | 'published' | 'scheduled';
  visibility: string;
  custom_excerpt: string | null;
  codeinjection_head: string | null;
  codeinjection_foot: string | null;
  custom_template: string | null;
  canonical_url: string | null;
  og_image: string | null;
  og_title: string | null;
  og_description: string | null;
  twitter_image: string | null;
  twitter_title: string | null;
  twitter_description: string | null;
  meta_title: string | null;
  meta_description: string | null;
  email_subject: string | null;
  frontmatter: string | null;
  show_title_and_feature_image: Flag;
  published_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface TagsTable {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  feature_image: string | null;
  visibility: string;
  og_image: string | null;
  og_title: string | null;
  og_description: string | null;
  twitter_image: string | null;
  twitter_title: string | null;
  twitter_description: string | null;
  meta_title: string | null;
  meta_description: string | null;
  codeinjection_head: string | null;
  codeinjection_foot: string | null;
  canonical_url: string | null;
  accent_color: string | null;
  created_at: string;
  updated_at: string;
}

export interface PostsTagsTable {
  id: string;
  post_id: string;
  tag_id: string;
  sort_order: number;
}

export interface PostsAuthorsTable {
  id: string;
  post_id: string;
  author_id: string;
  sort_order: number;
}

export interface MembersTable {
  id: string;
  uuid: string;
  email: string;
  name: string | null;
  note: string | null;
  geolocation: string | null;
  status: string;
  /** Subscribed to the default newsletter. */
  subscribed: Flag;
  email_count: number;
  email_opened_count: number;
  email_open_rate: number | null;
  last_seen_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface LabelsTable {
  id: string;
  name: string;
  slug: string;
  created_at: string;
  updated_at: string;
}

export interface MembersLabelsTable {
  id: string;
  member_id: string;
  label_id: string;
  sort_order: number;
}

export interface NewslettersTable {
  id: string;
  uuid: string;
  name: string;
  slug: string;
  description: string | null;
  status: string;
  sort_order: number;
  created_at: string;
  updated_at: string;
}

export interface SettingsTable {
  id: string;
  key: string;
  /** Stored as text; null allowed. */
  value: string | null;
  created_at: string;
  updated_at: string;
}

export interface IntegrationsTable {
  id: string;
  type: string;
  name: string;
  slug: string;
  icon_image: string | null;
  description: string | null;
  /** The `whsec_` secret of this integration's `herald listen` stream; made on first use. */
  listen_secret: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: string;
  type: 'admin' | 'content';
  secret: string;
  role_id: string | null;
  integration_id: string | null;
  user_id: string | null;
  last_seen_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhooksTable {
  id: string;
  event: string;
  target_url: string;
  name: string | null;
  secret: string | null;
  api_version: string;
  integration_id: string;
  last_triggered_at: string | null;
  last_triggered_status: string | null;
  last_triggered_error: string | null;
  status: 'available' | 'disabled';
  disabled_reason: string | null;
  filter: string | null;
  /** JSON array of `{secret, expires_at}`. */
  previous_secrets: string | null;
  source_id: string | null;
  created_at: string;
  updated_at: string;
}

/** One fired event: the outbox row, with the exact payload receivers get. */
export interface EventsTable {
  id: string;
  name: string;
  resource_type: string | null;
  resource_id: string | null;
  /** The JSON body, built once and sent byte-identical on every attempt. */
  payload: string;
  /** The upstream Ghost source for relayed events (section 13); null for Herald's own. */
  source_id: string | null;
  created_at: string;
}

/** A delivery's state. */
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One (event, webhook) delivery and its scheduling state. */
export interface DeliveriesTable {
  id: string;
  event_id: string;
  webhook_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  /** When the next attempt is due; null once the delivery is finished. */
  next_attempt_at: string | null;
  /** The worker holding the delivery, until lease_expires_at. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  /**
   * Why the next attempt is made (migration 0004): null = the retry schedule; 'manual' = an
   * API retry of a pending delivery or a recovery (a failure follows the schedule);
   * 'manual_once' = an API retry of a finished delivery (exactly one attempt: a failure makes
   * it failed again).
   * The worker records the attempt's trigger from it and clears it.
   */
  next_trigger?: NextTrigger | null;
  created_at: string;
  updated_at: string;
  /**
   * 1 once the row is in the per-webhook index deliveries_webhook_created (migration 0009),
   * 0 while it waits for the filing (delivery/filing.ts). SQLite's outbox writes 0; everything
   * else, and PostgreSQL always, writes 1 (the default).
   */
  filed?: number;
}

/** See DeliveriesTable.next_trigger. */
export type NextTrigger = 'manual' | 'manual_once';

/** Why an attempt was made. */
export type AttemptTrigger = 'scheduled' | 'manual';

/** One HTTP attempt of a delivery. */
export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  webhook_id: string;
  attempt_number: number;
  trigger: AttemptTrigger;
  started_at: string;
  duration_ms: number;
  request_url: string;
  /** JSON object of the request headers sent. */
  request_headers: string;
  response_status: number | null;
  /** JSON object of the response headers; null when no answer came. */
  response_headers: string | null;
  /** The response body, truncated to 16 KiB. */
  response_body: string | null;
  error: string | null;
}

/** An upstream Ghost site whose webhooks Herald relays (SPEC §13). */
export interface SourcesTable {
  id: string;
  name: string;
  /** Signs what Ghost sends to the ingest endpoint (X-Ghost-Signature, as UTF-8). */
  secret: string;
  /** The Ghost site `source connect` last connected; null before. */
  ghost_url: string | null;
  created_at: string;
  updated_at: string;
}

/** One webhook `source connect` created in the Ghost site (what `disconnect` removes). */
export interface SourceGhostWebhooksTable {
  id: string;
  source_id: string;
  ghost_url: string;
  event: string;
  /** Ghost's id of the webhook. */
  ghost_webhook_id: string;
  target_url: string;
  created_at: string;
}

/** One accepted ingest, for dropping exact repeats within 24 h. */
export interface SourceReceiptsTable {
  source_id: string;
  /** SHA-256 hex of the X-Ghost-Signature header value. */
  signature_hash: string;
  received_at: string;
}

/** Every table, as Kysely sees the database. */
export interface DB {
  roles: RolesTable;
  users: UsersTable;
  sessions: SessionsTable;
  posts: PostsTable;
  tags: TagsTable;
  posts_tags: PostsTagsTable;
  posts_authors: PostsAuthorsTable;
  members: MembersTable;
  labels: LabelsTable;
  members_labels: MembersLabelsTable;
  newsletters: NewslettersTable;
  settings: SettingsTable;
  integrations: IntegrationsTable;
  api_keys: ApiKeysTable;
  webhooks: WebhooksTable;
  events: EventsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  sources: SourcesTable;
  source_ghost_webhooks: SourceGhostWebhooksTable;
  source_receipts: SourceReceiptsTable;
}
