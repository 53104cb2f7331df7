package io.tandem.orchestrator.session;

/** Which models write: both by Speculative Thinking, or one alone for comparison. */
public enum Mode {
  speculative, small, large
}
