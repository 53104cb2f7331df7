package io.tandem.orchestrator.http;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits chat output into reasoning ({@code reasoning_content}) and answer ({@code content}) as it
 * streams, the way vLLM's reasoning parsers do. A tag split across two deltas is held back until it
 * is complete, so no client ever sees half of {@code </think>}.
 */
public final class ReasoningSplitter {

  /** Which parser, as {@code tandem.http.reasoning-parser} names it. */
  public enum Mode {
    /** vLLM's deepseek_r1: output starts inside the thought; everything before {@code </think>} is reasoning. */
    DEEPSEEK_R1,
    /** Only text between {@code <think>} and {@code </think>} is reasoning. */
    THINK_TAGS,
    /** No split: everything is content. */
    NONE;

    public static Mode parse(String s) {
      return switch (s.strip().toLowerCase()) {
        case "deepseek_r1", "deepseek-r1" -> DEEPSEEK_R1;
        case "think_tags", "think-tags" -> THINK_TAGS;
        case "none", "off", "" -> NONE;
        default -> throw new IllegalArgumentException(
            "tandem.http.reasoning-parser: unknown parser '" + s + "' (deepseek_r1, think_tags, none)");
      };
    }
  }

  /** A piece of output and where it goes. */
  public record Piece(boolean reasoning, String text) {}

  static final String OPEN = "<think>";
  static final String CLOSE = "</think>";

  private final Mode mode;
  private boolean inReasoning;
  private boolean closedOnce;
  private final StringBuilder held = new StringBuilder();

  public ReasoningSplitter(Mode mode) {
    this.mode = mode;
    this.inReasoning = mode == Mode.DEEPSEEK_R1;
  }

  /** The pieces that {@code text} (the next output) makes decidable. */
  public List<Piece> feed(String text) {
    List<Piece> out = new ArrayList<>();
    if (mode == Mode.NONE) {
      if (!text.isEmpty()) out.add(new Piece(false, text));
      return out;
    }
    held.append(text);
    while (true) {
      String buf = held.toString();
      int open = closedOnce && mode == Mode.DEEPSEEK_R1 ? -1 : buf.indexOf(OPEN);
      int close = closedOnce && mode == Mode.DEEPSEEK_R1 ? -1 : buf.indexOf(CLOSE);
      int at;
      String tag;
      if (open >= 0 && (close < 0 || open < close)) {
        at = open;
        tag = OPEN;
      } else if (close >= 0) {
        at = close;
        tag = CLOSE;
      } else {
        int keep = (closedOnce && mode == Mode.DEEPSEEK_R1) ? 0 : heldBack(buf);
        add(out, buf.substring(0, buf.length() - keep));
        held.setLength(0);
        held.append(buf, buf.length() - keep, buf.length());
        return out;
      }
      add(out, buf.substring(0, at));
      held.setLength(0);
      held.append(buf.substring(at + tag.length()));
      if (tag.equals(OPEN)) {
        inReasoning = true;
      } else {
        inReasoning = false;
        closedOnce = true;
      }
    }
  }

  /** What is still held back (an incomplete tag at the very end): it was text after all. */
  public List<Piece> flush() {
    List<Piece> out = new ArrayList<>();
    add(out, held.toString());
    held.setLength(0);
    return out;
  }

  private void add(List<Piece> out, String text) {
    if (text.isEmpty()) return;
    out.add(new Piece(inReasoning, text));
  }

  /** The length of the longest suffix of {@code buf} that could begin a tag. */
  private static int heldBack(String buf) {
    for (int n = Math.min(buf.length(), CLOSE.length() - 1); n > 0; n--) {
      String suffix = buf.substring(buf.length() - n);
      if (OPEN.startsWith(suffix) || CLOSE.startsWith(suffix)) return n;
    }
    return 0;
  }

  /** The whole output split at once: {@code [reasoning, content]}, either null when empty. */
  public static String[] split(String text, Mode mode) {
    ReasoningSplitter s = new ReasoningSplitter(mode);
    StringBuilder reasoning = new StringBuilder();
    StringBuilder content = new StringBuilder();
    List<Piece> pieces = new ArrayList<>(s.feed(text));
    pieces.addAll(s.flush());
    for (Piece p : pieces) (p.reasoning() ? reasoning : content).append(p.text());
    return new String[] {reasoning.length() == 0 ? null : reasoning.toString(), content.length() == 0 ? null : content.toString()};
  }
}
