package io.tandem.protocol;

/** The two model roles of Speculative Thinking. */
public enum Role {
  small, large
}
