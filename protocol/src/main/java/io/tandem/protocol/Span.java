package io.tandem.protocol;

/**
 * A run of output tokens by one author for one reason: token positions after the prompt, end
 * exclusive.
 */
public record Span(Author author, SpanReason reason, int start, int end, String text)
    implements CborSerializable {}
