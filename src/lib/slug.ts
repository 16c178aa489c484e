/**
 * Ghost-style slugs: lowercase ASCII words joined by dashes, made unique by a numeric suffix.
 */

/** Turns any text into a slug (`"Hello, World!"` → `hello-world`); never empty. */
export function slugify(text: string, fallback = 'untitled'): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 185)
    .replace(/-+$/g, '');
  return slug || fallback;
}

/**
 * The first of `base`, `base-2`, `base-3`, … for which `taken` answers false.
 * `taken` is asked inside the caller's transaction, so the answer holds at commit.
 */
export async function uniqueSlug(base: string, taken: (candidate: string) => Promise<boolean>): Promise<string> {
  if (!(await taken(base))) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!(await taken(candidate))) return candidate;
  }
}
