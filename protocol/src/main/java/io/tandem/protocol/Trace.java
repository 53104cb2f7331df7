package io.tandem.protocol;

import java.util.List;

/** The record of one generation: its text, why it ended, who wrote what, and its counters. */
public record Trace(String text, FinishReason finishReason, List<Span> spans, Counters counters)
    implements CborSerializable {}
