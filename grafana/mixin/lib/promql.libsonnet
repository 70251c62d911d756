// Small helpers for writing PromQL in the mixin.
{
  // a + the elements of b that a does not have, in order.
  union(a, b):: a + [x for x in b if !std.member(a, x)],

  // "account, transform, to_state" from ['account', 'transform', 'to_state'].
  labels(names):: std.join(', ', names),

  // A number as a PromQL literal: 0.1, not 0.10000000000000001; 1000000, not 1e+06.
  // Strings pass as they are (a threshold may be given as text).
  number(x):: if std.isString(x) then x else '%.15g' % x,

  // "by (account, transform)".
  by(names):: 'by (%s)' % self.labels(names),
}
