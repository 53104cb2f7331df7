package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PluralTest {
  @Test
  void oneIsSingularAndEveryOtherCountPlural() {
    assertEquals("1 request", Plural.count(1, "request"));
    assertEquals("0 requests", Plural.count(0, "request"));
    assertEquals("2 problems", Plural.count(2, "problem"));
    assertEquals("-1 tokens", Plural.count(-1, "token"));
  }
}
