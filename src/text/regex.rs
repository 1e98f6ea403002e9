//! A small regex: parsed to a program and run as a Pike VM (Thompson NFA simulation), so a match
//! costs at most pattern size × text length whatever the pattern (`(a*)*b` cannot blow up).
//! It answers only "does it match": no captures, lazy quantifiers behave as greedy ones.
//!
//! Syntax: literals, `.`, `[...]` (ranges, `^` negation, `\d`-style shorthands inside),
//! `\d \w \s \D \W \S \b \B`, escapes (`\n \t \r \xHH`, punctuation), `* + ? {m} {m,} {m,n}`,
//! `|`, groups `( )` and `(?: )`, the flag `(?i)` (case-insensitive, whole pattern), `^ $`
//! (start and end of the text, `$` also before a final newline, as Python's `re`).

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Regex {
    prog: Vec<Inst>,
    classes: Vec<Class>,
    icase: bool,
}

#[derive(Clone, Debug)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

#[derive(Clone, Copy, Debug)]
enum Inst {
    Char(char),
    Any,
    Class(usize),
    Split(usize, usize),
    Jmp(usize),
    Bol,
    Eol,
    WordBoundary(bool),
    Match,
}

#[derive(Clone, Debug)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(usize),
    Bol,
    Eol,
    WordBoundary(bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// Programs larger than this are refused (counted repeats multiply a pattern's size).
const MAX_PROGRAM: usize = 20_000;
const MAX_REPEAT: u32 = 1000;
const MAX_NESTING: usize = 200;

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];

impl Regex {
    /// Compiles `pattern`; the error names what is wrong and where (`position` counts characters
    /// from 0).
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut p = Parser { chars: pattern.chars().collect(), pos: 0, icase: false, classes: Vec::new(), depth: 0 };
        let node = p.alt()?;
        if p.pos < p.chars.len() {
            return Err(format!("unbalanced ')' at position {}", p.pos));
        }
        let mut re = Regex { prog: Vec::new(), classes: p.classes, icase: p.icase };
        re.emit(&node)?;
        re.prog.push(Inst::Match);
        Ok(re)
    }

    /// True when the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let n = self.prog.len();
        let (mut cur, mut next) = (Threads::new(n), Threads::new(n));
        let mut stack = Vec::new();
        let mut prev: Option<char> = None;
        let mut at = 0;
        loop {
            let c = text[at..].chars().next();
            let ctx = Ctx { prev, cur: c, start: at == 0, end: c.is_none() || &text[at..] == "\n" };
            self.add(&mut cur, 0, &ctx, &mut stack);
            let Some(c) = c else { return cur.list.iter().any(|&pc| matches!(self.prog[pc], Inst::Match)) };
            let after = at + c.len_utf8();
            let nc = text[after..].chars().next();
            let nctx = Ctx { prev: Some(c), cur: nc, start: false, end: nc.is_none() || &text[after..] == "\n" };
            for i in 0..cur.list.len() {
                let pc = cur.list[i];
                let ok = match self.prog[pc] {
                    Inst::Match => return true,
                    Inst::Char(x) => x == c || (self.icase && fold(c) == x),
                    Inst::Any => c != '\n',
                    Inst::Class(k) => self.class_has(k, c),
                    _ => false,
                };
                if ok {
                    self.add(&mut next, pc + 1, &nctx, &mut stack);
                }
            }
            std::mem::swap(&mut cur, &mut next);
            next.clear();
            prev = Some(c);
            at = after;
        }
    }

    /// Adds `pc` and every state reachable from it without consuming a character.
    fn add(&self, list: &mut Threads, pc: usize, ctx: &Ctx, stack: &mut Vec<usize>) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if list.on[pc] {
                continue;
            }
            list.on[pc] = true;
            list.list.push(pc);
            match self.prog[pc] {
                Inst::Jmp(x) => stack.push(x),
                Inst::Split(x, y) => {
                    stack.push(y);
                    stack.push(x);
                }
                Inst::Bol if ctx.start => stack.push(pc + 1),
                Inst::Eol if ctx.end => stack.push(pc + 1),
                Inst::WordBoundary(b) if (is_word(ctx.prev) != is_word(ctx.cur)) == b => stack.push(pc + 1),
                _ => {}
            }
        }
    }

    fn class_has(&self, k: usize, c: char) -> bool {
        let class = &self.classes[k];
        let within = |c: char| class.ranges.iter().any(|&(a, b)| a <= c && c <= b);
        let hit = within(c) || (self.icase && (within(fold(c)) || within(upper(c))));
        hit != class.negated
    }

    fn emit(&mut self, node: &Node) -> Result<(), String> {
        if self.prog.len() > MAX_PROGRAM {
            return Err(format!("pattern is too large (over {MAX_PROGRAM} states after expanding repeats)"));
        }
        match node {
            Node::Empty => {}
            Node::Char(c) => self.prog.push(Inst::Char(if self.icase { fold(*c) } else { *c })),
            Node::Any => self.prog.push(Inst::Any),
            Node::Class(k) => self.prog.push(Inst::Class(*k)),
            Node::Bol => self.prog.push(Inst::Bol),
            Node::Eol => self.prog.push(Inst::Eol),
            Node::WordBoundary(b) => self.prog.push(Inst::WordBoundary(*b)),
            Node::Concat(items) => {
                for item in items {
                    self.emit(item)?;
                }
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    if i + 1 < branches.len() {
                        let split = self.prog.len();
                        self.prog.push(Inst::Split(split + 1, 0));
                        self.emit(b)?;
                        jumps.push(self.prog.len());
                        self.prog.push(Inst::Jmp(0));
                        let here = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, here);
                    } else {
                        self.emit(b)?;
                    }
                }
                let end = self.prog.len();
                for j in jumps {
                    self.prog[j] = Inst::Jmp(end);
                }
            }
            Node::Repeat(item, min, max) => {
                for _ in 0..*min {
                    self.emit(item)?;
                }
                match max {
                    None => {
                        let split = self.prog.len();
                        self.prog.push(Inst::Split(split + 1, 0));
                        self.emit(item)?;
                        self.prog.push(Inst::Jmp(split));
                        let end = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.prog.len());
                            self.prog.push(Inst::Split(0, 0));
                            self.emit(item)?;
                        }
                        let end = self.prog.len();
                        for s in splits {
                            self.prog[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

struct Ctx {
    prev: Option<char>,
    cur: Option<char>,
    start: bool,
    end: bool,
}

/// The live states of one step, in order, each once.
struct Threads {
    on: Vec<bool>,
    list: Vec<usize>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads { on: vec![false; n], list: Vec::with_capacity(n) }
    }

    fn clear(&mut self) {
        for &pc in &self.list {
            self.on[pc] = false;
        }
        self.list.clear();
    }
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn upper(c: char) -> char {
    c.to_uppercase().next().unwrap_or(c)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    icase: bool,
    classes: Vec<Class>,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        self.pos += hit as usize;
        hit
    }

    fn class(&mut self, ranges: &[(char, char)], negated: bool) -> Node {
        self.classes.push(Class { ranges: ranges.to_vec(), negated });
        Node::Class(self.classes.len() - 1)
    }

    /// `a|b|c` up to a `)` or the end.
    fn alt(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("groups nested too deeply at position {}", self.pos));
        }
        let mut branches = vec![self.concat()?];
        while self.eat('|') {
            branches.push(self.concat()?);
        }
        self.depth -= 1;
        Ok(if branches.len() == 1 { branches.pop().unwrap_or(Node::Empty) } else { Node::Alt(branches) })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn quantified(&mut self, mut atom: Node) -> Result<Node, String> {
        loop {
            let at = self.pos;
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.braces() {
                    Some(r) => r,
                    None => {
                        self.pos = at;
                        return Ok(atom);
                    }
                },
                _ => return Ok(atom),
            };
            self.pos += 1; // past the quantifier (`braces` stops on its `}`)
            if matches!(atom, Node::Bol | Node::Eol | Node::WordBoundary(_) | Node::Empty) {
                return Err(format!("nothing to repeat at position {at}"));
            }
            if max.is_some_and(|m| m < min) {
                return Err(format!("bad repeat range at position {at}: the maximum is below the minimum"));
            }
            if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                return Err(format!("repeat count above {MAX_REPEAT} at position {at}"));
            }
            self.eat('?');
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    /// `{m}`, `{m,}`, `{m,n}`; leaves `pos` on the `}`. `None` when it is not a repeat (then
    /// `{` is a literal, as in Python).
    fn braces(&mut self) -> Option<(u32, Option<u32>)> {
        self.pos += 1;
        let min = self.number()?;
        let max =
            if self.eat(',') { if self.peek() == Some('}') { None } else { Some(self.number()?) } } else { Some(min) };
        (self.peek() == Some('}')).then_some((min, max))
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().ok().map(|n: u64| n.min(u32::MAX as u64) as u32)
    }

    fn atom(&mut self) -> Result<Node, String> {
        let at = self.pos;
        let Some(c) = self.peek() else { return Ok(Node::Empty) };
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Bol,
            '$' => Node::Eol,
            '*' | '+' | '?' => return Err(format!("nothing to repeat at position {at}")),
            '[' => self.bracket(at)?,
            '\\' => self.escape(false)?.1,
            '(' => {
                if self.eat('?') {
                    if self.eat(':') {
                    } else if self.eat('i') && self.eat(')') {
                        self.icase = true;
                        return Ok(Node::Empty);
                    } else {
                        return Err(format!("unsupported group syntax at position {at} (only (?: ) and (?i))"));
                    }
                }
                let inner = self.alt()?;
                if !self.eat(')') {
                    return Err(format!("missing ')' for the group opened at position {at}"));
                }
                inner
            }
            c => Node::Char(c),
        })
    }

    /// After a `\`: a single character (`Some`) or a class/assertion node.
    fn escape(&mut self, in_class: bool) -> Result<(Option<char>, Node), String> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else { return Err(format!("pattern ends with a lone '\\' at position {at}")) };
        self.pos += 1;
        let shorthand = |p: &mut Parser, r: &'static [(char, char)], neg: bool| Ok((None, p.class(r, neg)));
        let literal = |c: char| Ok((Some(c), Node::Char(c)));
        match c {
            'd' => shorthand(self, DIGIT, false),
            'D' => shorthand(self, DIGIT, true),
            'w' => shorthand(self, WORD, false),
            'W' => shorthand(self, WORD, true),
            's' => shorthand(self, SPACE, false),
            'S' => shorthand(self, SPACE, true),
            'b' if !in_class => Ok((None, Node::WordBoundary(true))),
            'B' if !in_class => Ok((None, Node::WordBoundary(false))),
            'b' => literal('\u{8}'),
            'n' => literal('\n'),
            't' => literal('\t'),
            'r' => literal('\r'),
            'f' => literal('\u{c}'),
            'v' => literal('\u{b}'),
            '0' => literal('\0'),
            'x' => {
                let hex: String = self.chars.iter().skip(self.pos).take(2).collect();
                match u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 2).and_then(char::from_u32) {
                    Some(c) => {
                        self.pos += 2;
                        literal(c)
                    }
                    None => Err(format!("bad \\x escape at position {at} (expected two hex digits)")),
                }
            }
            c if c.is_ascii_alphanumeric() => Err(format!("unknown escape \\{c} at position {at}")),
            c => literal(c),
        }
    }

    /// `[...]` after its `[`.
    fn bracket(&mut self, at: usize) -> Result<Node, String> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else { return Err(format!("missing ']' for the class opened at position {at}")) };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            self.pos += 1;
            let lo = if c == '\\' {
                match self.escape(true)? {
                    (Some(c), _) => c,
                    (None, Node::Class(k)) => {
                        let class = self.classes.pop().expect("shorthand class");
                        debug_assert_eq!(k, self.classes.len());
                        ranges.extend(if class.negated { complement(&class.ranges) } else { class.ranges });
                        continue;
                    }
                    (None, _) => continue,
                }
            } else {
                c
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let mut hi = self.chars[self.pos];
                self.pos += 1;
                if hi == '\\' {
                    hi = match self.escape(true)? {
                        (Some(c), _) => c,
                        _ => return Err(format!("bad range end in the class at position {at}")),
                    };
                }
                if hi < lo {
                    return Err(format!("bad range {lo}-{hi} in the class at position {at}"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(self.class(&ranges, negated))
    }
}

/// The characters outside sorted, disjoint `ranges`.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(a, b) in ranges {
        if (a as u32) > next {
            out.extend(char::from_u32(next).zip(char::from_u32(a as u32 - 1)));
        }
        next = b as u32 + 1;
    }
    out.extend(char::from_u32(next).map(|c| (c, char::MAX)));
    out
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, t: &str) -> bool {
        Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}")).is_match(t)
    }

    #[test]
    fn literals_classes_and_escapes() {
        assert!(m("abc", "xxabcxx"));
        assert!(!m("abd", "xxabcxx"));
        assert!(m("a.c", "abc") && !m("a.c", "a\nc"));
        assert!(m("[a-c]x", "bx") && !m("[^a-c]x", "bx") && m("[^a-c]x", "dx"));
        assert!(m(r"\d{3}-\d{4}", "call 555-1234") && !m(r"\d{3}-\d{4}", "55-1234"));
        assert!(m(r"\w+\s\W", "ab !") && m(r"\S\D", "a b") && !m(r"^\D$", "5"));
        assert!(m(r"[\d_]+$", "x1_2") && m(r"[\W]", "a-") && !m(r"[\W]", "ab"));
        assert!(m(r"a\.b", "a.b") && !m(r"a\.b", "axb"));
        assert!(m(r"\x41\t", "A\t") && m("[]a]", "]") && m("[a-]", "-"));
        assert!(m("a{2}", "aa") && !m("^a{2}$", "aaa") && m("^a{2,}$", "aaaa") && m("^a{1,3}$", "aaa"));
        assert!(!m("^a{1,3}$", "aaaa") && m("x{,", "x{,"));
    }

    #[test]
    fn alternation_groups_anchors_and_flags() {
        assert!(m("^(foo|bar)+$", "foobarfoo") && !m("^(foo|bar)+$", "foobaz"));
        assert!(m("(?:ab)*c", "ababc") && m("colou?r", "color") && m("colou?r", "colour"));
        assert!(m("^abc$", "abc\n") && !m("^bc", "abc") && m("c$", "abc"));
        assert!(m(r"\bcat\b", "a cat sat") && !m(r"\bcat\b", "concatenate") && m(r"\Bcat", "concat"));
        assert!(m("(?i)HeLLo", "say hello") && !m("HeLLo", "say hello") && m("(?i)[A-Z]+1", "abc1"));
        assert!(m("a.*?b", "axxb") && m("x|", "y") && m("", "anything"));
        assert!(m("é+", "café") && m("(?i)É", "é"));
    }

    #[test]
    fn bad_patterns_name_the_problem_and_position() {
        let e = |p: &str| Regex::new(p).unwrap_err();
        assert_eq!(e("(ab"), "missing ')' for the group opened at position 0");
        assert_eq!(e("ab)"), "unbalanced ')' at position 2");
        assert_eq!(e("*a"), "nothing to repeat at position 0");
        assert_eq!(e("a|?"), "nothing to repeat at position 2");
        assert!(e("[abc").contains("missing ']'"), "{}", e("[abc"));
        assert!(e("[z-a]").contains("bad range"));
        assert!(e(r"\q").contains("unknown escape \\q at position 0"));
        assert!(e("a\\").contains("lone"));
        assert!(e("a{5,2}").contains("below the minimum"));
        assert!(e("(?P<x>a)").contains("unsupported group"));
        assert!(e("a{1001}").contains("above 1000"));
        assert!(e("(a{1000}){1000}").contains("too large"));
        assert!(e(&"(".repeat(500)).contains("nested too deeply"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(10_000);
        assert!(!m("(a*)*b", &text));
        assert!(!m("(a|aa)+$x", &text));
        assert!(m("(a*)*a", &text));
        assert!(!m("(x+x+)+y", &"x".repeat(5000)));
    }
}
