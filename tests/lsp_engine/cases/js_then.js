async function loadUser(id) {
  return fetch(`/api/users/${id}`)
    .then((response) => ║)
    .then((data) => data.user);
}
