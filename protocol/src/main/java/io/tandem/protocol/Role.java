package io.tandem.protocol;

/** Which of the two models a step runs on: the small reasoning model or the large guide. */
public enum Role {
  small, large
}
