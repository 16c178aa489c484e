/**
 * `/posts/` and `/pages/` routes: browse, read by id or slug, add (`?source=html`), edit
 * (requires `updated_at`), delete. Both resources share one table and one set of rules; the
 * route decides the `type`, so a page id on /posts/:id/ is a 404 and vice versa.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {addPost, browsePosts, deletePost, editPost, readPost, type PostContext, type PostType} from '../content/posts.ts';
import {parseFormats, serializePost, type PostFormat, type PostOutput, type PostSnapshot} from '../content/post-serializer.ts';
import {pickFields} from '../content/browse.ts';
import {singleItem} from '../content/input.ts';
import {eventsFor} from '../events/outbox.ts';
import {browseEnvelope, noContent, singleEnvelope, type CommonQuery} from './respond.ts';

/** The two resources served by these routes. */
const RESOURCES: ReadonlyArray<{type: PostType; plural: 'posts' | 'pages'}> = [
  {type: 'post', plural: 'posts'},
  {type: 'page', plural: 'pages'},
];

/** Registers the posts and pages routes on the Admin API. */
export function registerPostRoutes(app: FastifyInstance, deps: Deps): void {
  const ctx = (): PostContext => ({database: deps.database, now: deps.clock.now(), random: deps.random});
  // `include` is accepted and needs no handling: tags and authors are always included, as
  // Ghost's Admin API does by default.
  const render = (formats: readonly PostFormat[]) => (snapshot: PostSnapshot): PostOutput => serializePost(snapshot, deps.siteUrl(), {formats});
  const pick = (post: PostOutput, fields: string | undefined) => pickFields(post as Record<string, unknown>, fields);
  // Every write fires its events in its own transaction (the outbox), then wakes the worker.
  const withEvents = eventsFor(deps);

  for (const {type, plural} of RESOURCES) {
    app.get<{Querystring: CommonQuery}>(`/${plural}/`, async (request) => {
      const formats = parseFormats(request.query.formats, request.query.fields);
      const {posts, pagination} = await browsePosts(ctx(), type, request.query);
      return browseEnvelope(plural, posts.map(render(formats)).map((p) => pick(p, request.query.fields)), pagination);
    });

    app.get<{Params: {id: string}; Querystring: CommonQuery}>(`/${plural}/:id/`, async (request) => {
      const formats = parseFormats(request.query.formats, request.query.fields);
      const post = render(formats)(await readPost(ctx(), type, {id: request.params.id}));
      return singleEnvelope(plural, pick(post, request.query.fields));
    });

    app.get<{Params: {slug: string}; Querystring: CommonQuery}>(`/${plural}/slug/:slug/`, async (request) => {
      const formats = parseFormats(request.query.formats, request.query.fields);
      const post = render(formats)(await readPost(ctx(), type, {slug: request.params.slug}));
      return singleEnvelope(plural, pick(post, request.query.fields));
    });

    app.post<{Querystring: CommonQuery}>(`/${plural}/`, async (request, reply) => {
      // Options are checked before the write, so a bad `formats` never follows a committed save.
      const formats = parseFormats(request.query.formats);
      const change = await withEvents((on) => addPost(ctx(), type, singleItem(request.body, plural), {source: request.query.source, onChange: on.post}));
      return reply.status(201).send(singleEnvelope(plural, render(formats)(change.after!)));
    });

    app.put<{Params: {id: string}; Querystring: CommonQuery}>(`/${plural}/:id/`, async (request) => {
      const formats = parseFormats(request.query.formats);
      const change = await withEvents((on) => editPost(ctx(), type, request.params.id, singleItem(request.body, plural), {source: request.query.source, onChange: on.post}));
      return singleEnvelope(plural, render(formats)(change.after!));
    });

    app.delete<{Params: {id: string}}>(`/${plural}/:id/`, async (request, reply) => {
      await withEvents((on) => deletePost(ctx(), type, request.params.id, {onChange: on.post}));
      return noContent(reply);
    });
  }
}
