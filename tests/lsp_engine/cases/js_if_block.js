function first(items) {
  if (items.length === 0) {║
  return items[0];
}
