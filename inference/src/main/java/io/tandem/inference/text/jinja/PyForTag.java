package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter.InterpreterScopeClosable;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.ElseTag;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.parse.TagToken;
import com.hubspot.jinjava.util.ForLoop;
import com.hubspot.jinjava.util.ObjectIterator;
import com.hubspot.jinjava.util.ObjectTruthValue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The {@code for} tag with two of Jinja2's forms that Jinjava's own renders differently without a word.
 *
 * <ul>
 *   <li>The loop filter, {@code {% for m in messages if m.role != 'system' %}}: only the items whose condition holds
 *       are iterated, and {@code loop.index}, {@code loop.length}, {@code loop.first} and {@code loop.last} count
 *       those items, as Jinja2's do. Jinjava read {@code messages if cond} as an inline if without else, evaluated
 *       once with the loop variable undefined, and so iterated every message.
 *   <li>{@code {% else %}}: its part is rendered instead of the body when nothing is iterated, as in Jinja2. Jinjava
 *       rendered it after the body in every iteration.
 * </ul>
 */
public final class PyForTag extends ForTag {

  private static final long serialVersionUID = 1L;

  @Override
  public String interpretUnchecked(TagNode tagNode, JinjavaInterpreter interpreter) {
    var varsAndExpression = getLoopVarsAndExpression((TagToken) tagNode.getMaster());
    String expression = varsAndExpression.getRight();
    int at = loopFilter(expression);
    int orElse = elseAt(tagNode);
    if (at < 0 && orElse < 0) return super.interpretUnchecked(tagNode, interpreter);
    List<String> vars = varsAndExpression.getLeft();
    Object collection = interpreter.resolveELExpression(at < 0 ? expression : expression.substring(0, at),
        tagNode.getLineNumber());
    if (at >= 0) collection = filtered(collection, expression.substring(at + 2), vars, tagNode, interpreter);
    if (orElse < 0) return renderForCollection(tagNode, interpreter, vars, collection);
    if (ObjectIterator.getLoop(collection).hasNext()) {
      TagNode body = new TagNode(this, (TagToken) tagNode.getMaster(), tagNode.getSymbols());
      body.getChildren().addAll(tagNode.getChildren().subList(0, orElse));
      return renderForCollection(body, interpreter, vars, collection);
    }
    try (InterpreterScopeClosable scope = interpreter.enterScope()) {
      StringBuilder out = new StringBuilder();
      for (Node node : tagNode.getChildren().subList(orElse + 1, tagNode.getChildren().size())) {
        out.append(node.render(interpreter));
      }
      return out.toString();
    }
  }

  /** The items of {@code collection} for which {@code condition} holds, each bound to the loop variables. */
  private static List<Object> filtered(Object collection, String condition, List<String> vars, TagNode tagNode,
      JinjavaInterpreter interpreter) {
    List<Object> kept = new ArrayList<>();
    ForLoop items = ObjectIterator.getLoop(collection);
    try (InterpreterScopeClosable scope = interpreter.enterScope()) {
      while (items.hasNext()) {
        Object item = items.next();
        bind(interpreter, vars, interpreter.wrap(item));
        if (ObjectTruthValue.evaluate(interpreter.resolveELExpression(condition, tagNode.getLineNumber()))) kept.add(item);
      }
    }
    return kept;
  }

  /** Where the loop's own {@code {% else %}} is among its children, or -1. */
  private static int elseAt(TagNode tagNode) {
    int i = 0;
    for (Node node : tagNode.getChildren()) {
      if (node instanceof TagNode tag && tag.getTag() instanceof ElseTag) return i;
      i++;
    }
    return -1;
  }

  /** The loop variables set to {@code item} for the condition, unpacked as the {@code for} tag unpacks it. */
  private static void bind(JinjavaInterpreter interpreter, List<String> vars, Object item) {
    var context = interpreter.getContext();
    if (vars.size() == 1) {
      context.put(vars.get(0), item);
      return;
    }
    List<?> parts = item instanceof Map.Entry<?, ?> e ? Arrays.asList(e.getKey(), e.getValue())
        : item instanceof Collection<?> c ? new ArrayList<>(c) : List.of();
    for (int i = 0; i < vars.size(); i++) context.put(vars.get(i), i < parts.size() ? parts.get(i) : null);
  }

  /**
   * Where the loop filter's {@code if} starts in a loop expression, or -1. As in Jinja2's grammar, which reads the
   * iterable without inline ifs, the first {@code if} outside brackets and string literals begins the filter.
   */
  static int loopFilter(String expression) {
    int depth = 0;
    int i = 0;
    while (i < expression.length()) {
      char c = expression.charAt(i);
      if (c == '\'' || c == '"') {
        int end = expression.indexOf(c, i + 1);
        while (end > 0 && expression.charAt(end - 1) == '\\') end = expression.indexOf(c, end + 1);
        if (end < 0) return -1;
        i = end + 1;
        continue;
      }
      if (c == '(' || c == '[' || c == '{') depth++;
      else if (c == ')' || c == ']' || c == '}') depth--;
      else if (depth == 0 && expression.startsWith("if", i) && !identifierChar(expression, i - 1)
          && !identifierChar(expression, i + 2)) {
        return i;
      }
      i++;
    }
    return -1;
  }

  private static boolean identifierChar(String s, int i) {
    if (i < 0 || i >= s.length()) return false;
    char c = s.charAt(i);
    return Character.isLetterOrDigit(c) || c == '_' || c == '.';
  }
}
