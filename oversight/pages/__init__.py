"""Pages for people: the reviewers' console (``/console``) and the worker's page
(``/worker``). Server-rendered HTML that works without JavaScript; the API stays the
interface for programs."""
