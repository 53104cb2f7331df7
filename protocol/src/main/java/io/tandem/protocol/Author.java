package io.tandem.protocol;

/** Who wrote a span of the output. */
public enum Author {
  small, large, injected
}
