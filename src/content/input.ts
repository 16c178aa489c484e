/**
 * Helpers for reading Ghost-style request bodies (`{"posts":[{…}]}`): unknown properties are
 * ignored (clients PUT back whole GET responses), wrong types are a 422 naming the property.
 */
import {HeraldError, validationError} from '../lib/errors.ts';

/** A plain JSON object from a request body. */
export type Input = Record<string, unknown>;

/** Takes the single object of `{<resource>: [obj]}`, or throws Ghost's 422. */
export function singleItem(body: unknown, resource: string): Input {
  const list = (body as Record<string, unknown> | null | undefined)?.[resource];
  if (!Array.isArray(list) || list.length !== 1 || list[0] === null || typeof list[0] !== 'object' || Array.isArray(list[0])) {
    throw new HeraldError('Validation', {
      message: `Validation failed for ${resource}.`,
      context: `The body must be {"${resource}": [ { … } ]} with exactly one object.`,
      property: resource,
    });
  }
  return list[0] as Input;
}

/** A string (or null when `nullable`) of at most `max` characters; undefined when absent. */
export function optionalString(input: Input, key: string, max: number, nullable = true): string | null | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (value === null) {
    if (nullable) return null;
    throw validationError(key, `${key} cannot be null.`);
  }
  if (typeof value !== 'string') throw validationError(key, `${key} must be a string.`);
  if (value.length > max) throw validationError(key, `${key} must be at most ${max} characters.`);
  return value;
}

/** A required, non-empty string of at most `max` characters. */
export function requiredString(input: Input, key: string, max: number): string {
  const value = optionalString(input, key, max, false);
  if (value === undefined || value === null || value.trim() === '') throw validationError(key, `${key} is required.`);
  return value;
}

/** A boolean; undefined when absent. */
export function optionalBoolean(input: Input, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw validationError(key, `${key} must be true or false.`);
  return value;
}

/** One of `allowed`; undefined when absent. */
export function optionalEnum<T extends string>(input: Input, key: string, allowed: readonly T[]): T | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw validationError(key, `${key} must be one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

/**
 * The property name under which a NUL character (U+0000) first appears in a parsed body, or
 * null. PostgreSQL cannot store NUL in text, so bodies holding one are refused at the edge
 * (a 422 naming the property) instead of failing as an SQL error on one engine only.
 */
export function findNul(value: unknown, key = 'body', depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? key : null;
  if (depth > 64 || value === null || typeof value !== 'object') return null;
  for (const [childKey, child] of Object.entries(value)) {
    const name = Array.isArray(value) ? key : childKey;
    if (childKey.includes('\u0000')) return name;
    const found = findNul(child, name, depth + 1);
    if (found) return found;
  }
  return null;
}
