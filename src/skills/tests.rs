use super::*;
use crate::test_util::temp_dir;

fn write(home: &Path, rel: &str, text: &str) {
    let path = home.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn scans_both_layouts_with_frontmatter_and_fallbacks() {
    let home = temp_dir("skills-scan");
    write(
        &home,
        "skills/gif_search/SKILL.md",
        "---\nname: GIF Search\ndescription: \"Find a gif\"\n---\n# GIF\nBody\n",
    );
    write(
        &home,
        "skills/media/resize/SKILL.md",
        "---\nname: resize\ndescription: >\n  Resize images\n  of any kind\n---\nBody\n",
    );
    write(&home, "skills/plain/SKILL.md", "# Title\n\nFirst real line of the body.\n");
    write(&home, "skills/.git/x/SKILL.md", "---\nname: hidden\n---\n");
    write(&home, "skills/SKILL.md", "---\nname: top\n---\n");
    let skills = scan(&home);
    let got: Vec<_> = skills.iter().map(|s| (s.command.as_str(), s.description.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("gif-search", "Find a gif"),
            ("plain", "First real line of the body."),
            ("resize", "Resize images of any kind"),
        ]
    );
    assert_eq!(skills[0].name, "GIF Search");
    let _ = fs::remove_dir_all(home);
}

#[test]
fn the_cache_is_bounded_by_the_scan_cap_and_reload_sees_new_skills() {
    let home = temp_dir("skills-cache");
    write(&home, "skills/one/SKILL.md", "---\nname: one\n---\n");
    assert_eq!(cached(&home).len(), 1);
    write(&home, "skills/two/SKILL.md", "---\nname: two\n---\n");
    assert_eq!(cached(&home).len(), 1, "the cache holds until a reload");
    assert_eq!(reload(&home).len(), 2);
    assert_eq!(find(&home, "TWO").map(|s| s.name), Some("two".into()));
    let _ = fs::remove_dir_all(home);
}

#[test]
fn invocation_message_is_hermes_wording_with_body_files_and_args() {
    let home = temp_dir("skills-invoke");
    write(&home, "skills/deploy/SKILL.md", "---\nname: deploy\ndescription: Ship it\n---\nRun the deploy steps.\n");
    write(&home, "skills/deploy/scripts/run.sh", "echo hi\n");
    let skill = scan(&home).remove(0);
    let msg = invocation_message(&skill, "to staging").unwrap();
    assert!(msg.starts_with("[SYSTEM: The user has invoked the \"deploy\" skill"), "{msg}");
    assert!(msg.contains("Run the deploy steps."));
    assert!(msg.contains("- scripts/run.sh"));
    assert!(
        msg.ends_with("The user has provided the following instruction alongside the skill invocation: to staging")
    );
    let _ = fs::remove_dir_all(home);
}

#[test]
fn an_oversized_skill_is_refused() {
    let home = temp_dir("skills-big");
    let big = format!("---\nname: big\n---\n{}", "x".repeat(MAX_FILE_BYTES as usize + 1));
    write(&home, "skills/big/SKILL.md", &big);
    let skill = scan(&home).remove(0);
    assert_eq!(skill.command, "big");
    assert!(invocation_message(&skill, "").is_err());
    let _ = fs::remove_dir_all(home);
}
