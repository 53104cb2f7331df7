package io.tandem.protocol;

/** Why a generation ended, as the OpenAI API names it ({@code timeout} is Tandem's own). */
public enum FinishReason {
  stop, length, timeout, error
}
