package io.tandem.protocol;

import java.util.List;

/**
 * A run of session tokens produced under one vocabulary. A worker whose tokenizer has the same key
 * appends the ids as they are; any other worker re-encodes the text.
 */
public record Chunk(String tokenizerKey, List<Token> tokens) implements CborSerializable {
  /** @param tokenizerKey the vocabulary of the ids ({@code TextTokenizer.key()} of the worker that wrote them) */
  public Chunk {
    tokens = List.copyOf(tokens);
  }

  /** The chunk's text: what a worker of another vocabulary re-encodes. */
  public String text() {
    return Token.concat(tokens);
  }
}
