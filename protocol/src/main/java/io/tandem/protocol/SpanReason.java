package io.tandem.protocol;

/** Why a span was written (docs/ARCHITECTURE.md, "The algorithm"). */
public enum SpanReason {
  /**
   * a model writing on its own: the small model until a trigger, or one model alone (a request of
   * mode small or large, or the model that finishes a degraded session)
   */
  draft,
  /** the small model's look-ahead after a trigger, kept */
  lookahead,
  /** the large model's step after a trigger, kept */
  takeover,
  /** the large model continuing after a kept step that asked to verify */
  verify,
  /** the recap words and the large model's recap after too many negative steps */
  recap,
  /** the large model's opening for a non-reasoning small model */
  begin,
  /** help_think_word injected before a look-ahead */
  think
}
