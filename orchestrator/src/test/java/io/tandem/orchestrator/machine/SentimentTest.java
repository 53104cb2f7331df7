package io.tandem.orchestrator.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class SentimentTest {
  private static final SpeculativeConfig PAPER = SpeculativeConfig.paperDefaults();

  private static int of(String text) {
    return Sentiment.of(text, PAPER);
  }

  @Test
  void textWithoutKeywordsIsNeutral() {
    assertEquals(0, of("The sum is 42."));
    assertEquals(0, of(""));
  }

  @Test
  void morePositiveThanNegativeIsPositive() {
    assertEquals(1, of("Yes, that is the final answer."));
  }

  @Test
  void moreNegativeThanPositiveIsNegative() {
    assertEquals(-1, of("Wait, alternatively we could"));
  }

  @Test
  void aTieWithSomeKeywordsIsNegative() {
    assertEquals(-1, of("Yes, but wait"));
  }

  @Test
  void verifyKeywordsCountAgainstTheStep() {
    assertEquals(-1, of("Let me check"));
    assertEquals(-1, of("Let me think again"));
    assertEquals(1, of("Yes, yes, let me verify"));
  }

  @Test
  void matchingIgnoresCase() {
    assertEquals(-1, of("WAIT"));
    assertEquals(1, of("Final Answer: 3"));
  }

  @Test
  void keywordsAreCountedAsNonOverlappingSubstringsLikePythonsStrCount() {
    assertEquals(2, Sentiment.count("aaaa", "aa"));
    assertEquals(1, Sentiment.count("aaa", "aa"));
    assertEquals(3, Sentiment.count("yesyesyes", "yes"));
    // inside words too, as in the reference: "awaited" holds "wait", "checking" holds "check"
    assertEquals(-1, of("the awaited result"));
    assertEquals(-1, of("Checking"));
    // two positives against one negative
    assertEquals(1, of("yeah yes hold on"));
    assertEquals(-1, of("yes, hold on, another"));
  }

  @Test
  void containsAnyFindsAVerifyKeywordInAnyCase() {
    assertTrue(Sentiment.containsAny("Let me VERIFY this", PAPER.verifyKeywords()));
    assertFalse(Sentiment.containsAny("Let me see", PAPER.verifyKeywords()));
    assertFalse(Sentiment.containsAny("anything", List.of()));
  }
}
