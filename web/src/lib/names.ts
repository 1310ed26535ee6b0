/**
 * Two files called photo.jpg must not look, or sound, the same: "Download photo.jpg" twice
 * leaves a screen reader user guessing. The first keeps its name; later ones get " (2)",
 * " (3)"…, as file managers do, skipping any label another file already has as its name.
 */
export function distinctLabels(items: readonly { id: string; name: string; order: number }[]): Map<string, string> {
  const labels = new Map<string, string>();
  const taken = new Set(items.map((item) => item.name));
  const byName = new Map<string, { id: string; order: number }[]>();
  for (const item of items) byName.set(item.name, [...(byName.get(item.name) ?? []), item]);
  for (const [name, group] of byName) {
    group.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let next = 2;
    group.forEach((item, index) => {
      if (index === 0) return labels.set(item.id, name);
      while (taken.has(`${name} (${next})`)) next++;
      const label = `${name} (${next++})`;
      taken.add(label);
      labels.set(item.id, label);
    });
  }
  return labels;
}
