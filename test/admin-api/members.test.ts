import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {addMember, editMember, deleteMember, type MemberChange, type MemberContext} from '../../src/content/members.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';

const PAYLOADS = path.resolve('..', 'shared', 'ghost-fixtures', 'payloads');
const fixtureKeys = (name: string): string[] => Object.keys(JSON.parse(fs.readFileSync(path.join(PAYLOADS, name), 'utf8')).body.member.current);

/** Ghost's member keys: member.edited's order, with `tiers` after `last_seen_at` as in member.added. */
const EDITED_KEYS = fixtureKeys('member.edited.json');
const ADDED_KEYS = fixtureKeys('member.added.json');
const EXPECTED_KEYS = EDITED_KEYS.flatMap((key) => (key === 'last_seen_at' ? [key, 'tiers'] : [key]));

const isValidation = (property: string) => (error: any) => error.name === 'ValidationError' && error.property === property;

for (const dialect of DIALECTS) {
  describe(`members through @tryghost/admin-api (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect);
    });
    after(async () => herald?.close());

    const labelCount = async () => (await herald.database.db.selectFrom('labels').select('id').execute()).length;
    const raw = async (method: string, pathname: string, body?: unknown) =>
      request(herald, method, `/ghost/api/admin${pathname}`, {body, headers: {authorization: await adminToken(herald.integration.admin_key)}});

    test('add answers with Ghost\'s member shape and neutral values', async () => {
      const member = await herald.api.members.add({email: 'Shape@Example.com', name: 'Shape', comped: true, tiers: [{id: 'x'}], stripe_customer_id: 'cus_1'});
      assert.deepEqual(Object.keys(member), EXPECTED_KEYS);
      assert.deepEqual(new Set(Object.keys(member)), new Set([...ADDED_KEYS, ...EDITED_KEYS]));
      assert.match(member.id, /^[0-9a-f]{24}$/);
      assert.match(member.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(member.email, 'Shape@Example.com', 'the address is kept as given');
      assert.match(member.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(member.subscribed, true);
      assert.equal(member.comped, false, 'comped is ignored, not stored');
      assert.equal(member.status, 'free');
      assert.deepEqual(member.tiers, []);
      assert.deepEqual(member.subscriptions, []);
      assert.deepEqual(member.labels, []);
      assert.equal(member.avatar_image, null);
      assert.equal(member.note, null);
      assert.equal(member.geolocation, null);
      assert.equal(member.email_count, 0);
      assert.equal(member.email_opened_count, 0);
      assert.equal(member.email_open_rate, null);
      assert.equal(member.last_seen_at, null);
      assert.equal(member.newsletters.length, 1);
      assert.deepEqual(Object.keys(member.newsletters[0]), ['id', 'name', 'description', 'status']);
      assert.equal(member.newsletters[0].status, 'active');

      const unsubscribed = await herald.api.members.add({email: 'quiet@example.com', subscribed: false});
      assert.equal(unsubscribed.subscribed, false);
      assert.deepEqual(unsubscribed.newsletters, []);
      const viaNewsletters = await herald.api.members.add({email: 'loud@example.com', subscribed: false, newsletters: [{id: member.newsletters[0].id}]});
      assert.equal(viaNewsletters.subscribed, true, 'newsletters decide when both are given');

      const unsubscribedList = await herald.api.members.browse({filter: `subscribed:false+created_at:>='${unsubscribed.created_at}'`});
      assert.deepEqual(unsubscribedList.map((m: any) => m.email), ['quiet@example.com']);
    });

    test('labels given as strings or objects are created once and reused', async () => {
      const before = await labelCount();
      const a = await herald.api.members.add({email: 'labels-a@example.com', labels: ['VIP', {name: 'Beta Testers'}]});
      assert.deepEqual(a.labels.map((l: any) => [l.name, l.slug]), [['VIP', 'vip'], ['Beta Testers', 'beta-testers']]);
      assert.deepEqual(Object.keys(a.labels[0]), ['id', 'name', 'slug', 'created_at', 'updated_at']);
      assert.equal(await labelCount(), before + 2);

      const vip = a.labels[0];
      const b = await herald.api.members.add({email: 'labels-b@example.com', labels: [{slug: 'beta-testers'}, 'vip', {id: vip.id}]});
      assert.deepEqual(b.labels.map((l: any) => l.id), [a.labels[1].id, vip.id], 'found by slug, name (any case) and id; no duplicates');
      assert.equal(await labelCount(), before + 2);

      const c = await herald.api.members.add({email: 'labels-c@example.com', labels: [{slug: 'From Slug'}]});
      assert.deepEqual(c.labels.map((l: any) => [l.name, l.slug]), [['From Slug', 'from-slug']]);
    });

    test('invalid and duplicate e-mail addresses are 422s on email', async () => {
      await assert.rejects(herald.api.members.add({email: 'not-an-address'}), isValidation('email'));
      await assert.rejects(herald.api.members.add({name: 'No Email'}), isValidation('email'));
      await herald.api.members.add({email: 'taken@example.com'});
      await assert.rejects(herald.api.members.add({email: 'TAKEN@Example.COM'}), (error: any) =>
        error.name === 'ValidationError' && error.property === 'email' &&
        error.message === 'Member already exists. Attempting to add member with existing email address');
      const rows = await herald.database.db.selectFrom('members').select('id').where('email', 'in', ['taken@example.com', 'TAKEN@Example.COM']).execute();
      assert.equal(rows.length, 1);
    });

    test('concurrent adds: one address wins, a new label is made once', async () => {
      // Different letter case is the same address: the lower(email) index holds under the race too.
      const spellings = ['race@example.com', 'RACE@example.com', 'Race@Example.com', 'race@EXAMPLE.COM', 'rAcE@example.com'];
      const sameEmail = await Promise.allSettled(spellings.map((email) => herald.api.members.add({email})));
      assert.equal(sameEmail.filter((r) => r.status === 'fulfilled').length, 1);
      for (const result of sameEmail) {
        if (result.status === 'rejected') assert.ok(isValidation('email')(result.reason), String(result.reason));
      }
      const sameLabel = await Promise.all(Array.from({length: 5}, (_, i) => herald.api.members.add({email: `race-${i}@example.com`, labels: ['Race Label']})));
      assert.equal(new Set(sameLabel.map((m: any) => m.labels[0].id)).size, 1);
    });

    test('read by id; an unknown id is a 404', async () => {
      const added = await herald.api.members.add({email: 'read@example.com', name: 'Reader', labels: ['readers']});
      const read = await herald.api.members.read({id: added.id});
      assert.deepEqual(read, added);
      await assert.rejects(herald.api.members.read({id: '0123456789abcdef01234567'}), (error: any) => error.name === 'NotFoundError');
    });

    test('browse filters by email, label and relations; paginates, orders and picks fields', async () => {
      for (const [email, name, labels] of [
        ['b-one@example.org', 'Browse One', ['browse-x']],
        ['b-two@example.org', 'Browse Two', ['browse-x', 'browse-y']],
        ['b-three@example.org', 'Browse Three', ['browse-y']],
      ] as const) {
        await herald.api.members.add({email, name, labels: [...labels]});
      }

      const byEmail = await herald.api.members.browse({filter: "email:'b-two@example.org'"});
      assert.deepEqual(byEmail.map((m: any) => m.name), ['Browse Two']);
      assert.deepEqual(byEmail[0].labels.map((l: any) => l.slug), ['browse-x', 'browse-y']);
      assert.equal(byEmail.meta.pagination.total, 1);

      const byLabel = await herald.api.members.browse({filter: 'label:browse-x', order: 'email asc'});
      assert.deepEqual(byLabel.map((m: any) => m.email), ['b-one@example.org', 'b-two@example.org']);
      const byLabels = await herald.api.members.browse({filter: "labels.name:'browse-y'+name:-'Browse Two'"});
      assert.deepEqual(byLabels.map((m: any) => m.email), ['b-three@example.org']);
      const notLabelled = await herald.api.members.browse({filter: "email:~'@example.org'+label:-browse-x"});
      assert.deepEqual(notLabelled.map((m: any) => m.email), ['b-three@example.org']);

      const page1 = await herald.api.members.browse({filter: "email:~'@example.org'", limit: 2, page: 1, order: 'name asc'});
      const page2 = await herald.api.members.browse({filter: "email:~'@example.org'", limit: 2, page: 2, order: 'name asc'});
      assert.deepEqual(page1.map((m: any) => m.name), ['Browse One', 'Browse Three']);
      assert.deepEqual(page2.map((m: any) => m.name), ['Browse Two']);
      assert.deepEqual(page2.meta.pagination, {page: 2, limit: 2, pages: 2, total: 3, next: null, prev: 1});

      // Default order is newest first.
      const newest = await herald.api.members.browse({filter: "email:~'@example.org'"});
      assert.deepEqual(newest.map((m: any) => m.name), ['Browse Three', 'Browse Two', 'Browse One']);

      const picked = await herald.api.members.browse({filter: "email:'b-one@example.org'", fields: 'email,name'});
      assert.deepEqual(Object.keys(picked[0]).sort(), ['email', 'id', 'name']);

      await assert.rejects(herald.api.members.browse({filter: 'password:x'}), (error: any) => error.name === 'BadRequestError');
      await assert.rejects(herald.api.members.browse({order: 'uuid asc'}), (error: any) => error.name === 'BadRequestError');
    });

    test('edit changes fields, replaces labels, unsubscribes', async () => {
      const member = await herald.api.members.add({email: 'edit@example.com', name: 'Before', labels: ['edit-a', 'edit-b']});
      await new Promise((r) => setTimeout(r, 5));
      const edited = await herald.api.members.edit({id: member.id, name: 'After', note: 'a note', labels: ['edit-c', {slug: 'edit-a'}], subscribed: false});
      assert.equal(edited.name, 'After');
      assert.equal(edited.note, 'a note');
      assert.deepEqual(edited.labels.map((l: any) => l.slug), ['edit-c', 'edit-a']);
      assert.equal(edited.subscribed, false);
      assert.deepEqual(edited.newsletters, []);
      assert.notEqual(edited.updated_at, member.updated_at);
      assert.equal(edited.created_at, member.created_at);
      assert.deepEqual(Object.keys(edited), EXPECTED_KEYS);

      const resubscribed = await herald.api.members.edit({id: member.id, newsletters: [{id: member.newsletters[0].id}]});
      assert.equal(resubscribed.subscribed, true);
      assert.equal(resubscribed.newsletters.length, 1);

      const cleared = await herald.api.members.edit({id: member.id, labels: []});
      assert.deepEqual(cleared.labels, []);

      const renamed = await herald.api.members.edit({id: member.id, email: 'Edited@Example.com'});
      assert.equal(renamed.email, 'Edited@Example.com');
      await herald.api.members.add({email: 'other@example.com'});
      await assert.rejects(herald.api.members.edit({id: member.id, email: 'OTHER@example.com'}), isValidation('email'));
      await assert.rejects(herald.api.members.edit({id: member.id, email: 'nope'}), isValidation('email'));
      await assert.rejects(herald.api.members.edit({id: '0123456789abcdef01234567', name: 'x'}), (error: any) => error.name === 'NotFoundError');
    });

    test('a save that changes nothing keeps updated_at (even a whole GET response put back)', async () => {
      const member = await herald.api.members.add({email: 'stable@example.com', name: 'Stable', labels: ['stable']});
      await new Promise((r) => setTimeout(r, 5));
      const same = await herald.api.members.edit({id: member.id, name: 'Stable', email: 'stable@example.com', labels: ['stable']});
      assert.equal(same.updated_at, member.updated_at);
      const {id, ...rest} = await herald.api.members.read({id: member.id});
      const putBack = await herald.api.members.edit({id, ...rest});
      assert.deepEqual(putBack, member);
    });

    test('delete answers 204, then the member is gone with its label links', async () => {
      const member = await herald.api.members.add({email: 'gone@example.com', labels: ['gone-label']});
      const response = await raw('DELETE', `/members/${member.id}/`);
      assert.equal(response.status, 204);
      assert.equal(response.text, '');
      await assert.rejects(herald.api.members.read({id: member.id}), (error: any) => error.name === 'NotFoundError');
      const links = await herald.database.db.selectFrom('members_labels').select('id').where('member_id', '=', member.id).execute();
      assert.equal(links.length, 0);
      assert.equal((await raw('DELETE', `/members/${member.id}/`)).status, 404);
    });

    test('bad input is a 422 naming the property, never a 500', async () => {
      const cases: Array<[string, unknown, string]> = [
        ['email is a number', {members: [{email: 5}]}, 'email'],
        ['labels is a string', {members: [{email: 'bad1@example.com', labels: 'x'}]}, 'labels'],
        ['label is a number', {members: [{email: 'bad2@example.com', labels: [5]}]}, 'labels'],
        ['label object without id/name/slug', {members: [{email: 'bad3@example.com', labels: [{colour: 'red'}]}]}, 'labels'],
        ['name too long', {members: [{email: 'bad4@example.com', name: 'n'.repeat(192)}]}, 'name'],
        ['note too long', {members: [{email: 'bad5@example.com', note: 'n'.repeat(2001)}]}, 'note'],
        ['subscribed not boolean', {members: [{email: 'bad6@example.com', subscribed: 'yes'}]}, 'subscribed'],
        ['newsletters not a list', {members: [{email: 'bad7@example.com', newsletters: 'all'}]}, 'newsletters'],
        ['body without members', {member: {email: 'bad8@example.com'}}, 'members'],
        ['members not a list', {members: {email: 'bad9@example.com'}}, 'members'],
        ['two members', {members: [{email: 'bad10@example.com'}, {email: 'bad11@example.com'}]}, 'members'],
      ];
      const target = await herald.api.members.add({email: 'bad-input-target@example.net'});
      for (const [name, body, property] of cases) {
        for (const [method, pathname] of [['POST', '/members/'], ['PUT', `/members/${target.id}/`]] as const) {
          const response = await raw(method, pathname, body);
          assert.equal(response.status, 422, `${method} ${name}: ${response.text}`);
          assert.equal(response.body.errors[0].type, 'ValidationError', name);
          assert.equal(response.body.errors[0].property, property, name);
        }
      }
      const written = await herald.database.db.selectFrom('members').select('id').where('email', 'like', 'bad%@example.com').execute();
      assert.equal(written.length, 0);
      assert.equal((await raw('POST', '/members/', '{"members": [')).status, 400);
    });

    test('a failed add leaves no member and no label behind', async () => {
      const labelsBefore = await labelCount();
      await assert.rejects(
        herald.api.members.add({email: 'half@example.com', labels: ['fresh-label', {id: '0123456789abcdef01234567'}]}),
        isValidation('labels'),
      );
      assert.equal(await labelCount(), labelsBefore);
      const rows = await herald.database.db.selectFrom('members').select('id').where('email', '=', 'half@example.com').execute();
      assert.equal(rows.length, 0);
    });

    test('writes report their change inside the transaction; a failing hook rolls everything back', async () => {
      const ctx = (): MemberContext => ({database: herald.database, now: new Date(), random: cryptoRandom});
      const seen: MemberChange[] = [];
      const record = async (_trx: unknown, change: MemberChange) => void seen.push(change);

      const added = await addMember(ctx(), {email: 'hook@example.com', name: 'Hook', labels: ['hooked']}, record);
      assert.equal(added.before, null);
      assert.equal(added.after!.email, 'hook@example.com');
      assert.deepEqual(added.changedFields, EXPECTED_KEYS);

      await new Promise((r) => setTimeout(r, 5));
      const edited = await editMember(ctx(), added.after!.id, {name: 'Hooked', note: 'n'}, record);
      assert.deepEqual(edited.changedFields, ['name', 'note', 'updated_at']);
      assert.equal(edited.before!.name, 'Hook');
      assert.equal(edited.after!.name, 'Hooked');

      const labelsOnly = await editMember(ctx(), added.after!.id, {labels: ['other-hook']}, record);
      assert.deepEqual(labelsOnly.changedFields, ['labels'], 'labels alone do not touch the row');

      const unsubscribed = await editMember(ctx(), added.after!.id, {subscribed: false}, record);
      assert.deepEqual(unsubscribed.changedFields, ['subscribed', 'updated_at', 'newsletters']);

      const noop = await editMember(ctx(), added.after!.id, {name: 'Hooked'}, record);
      assert.deepEqual(noop.changedFields, []);
      assert.equal(seen.length, 4, 'the hook is not called for a save that changed nothing');

      const fail = async () => {
        throw new Error('outbox down');
      };
      const labelsBefore = await labelCount();
      await assert.rejects(addMember(ctx(), {email: 'rolled-back@example.com', labels: ['rolled-back']}, fail), /outbox down/);
      assert.equal(await labelCount(), labelsBefore);
      assert.equal((await herald.database.db.selectFrom('members').select('id').where('email', '=', 'rolled-back@example.com').execute()).length, 0);
      await assert.rejects(editMember(ctx(), added.after!.id, {name: 'Never'}, fail), /outbox down/);
      await assert.rejects(deleteMember(ctx(), added.after!.id, fail), /outbox down/);
      const still = await herald.api.members.read({id: added.after!.id});
      assert.equal(still.name, 'Hooked');

      const deleted = await deleteMember(ctx(), added.after!.id, record);
      assert.equal(deleted.after, null);
      assert.equal(deleted.before!.email, 'hook@example.com');
    });
  });
}
