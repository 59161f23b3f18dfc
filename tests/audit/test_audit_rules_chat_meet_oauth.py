"""Chat, Meet and OAuth rules: breaches and decoys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from audit_env import DOMAIN, NOW, PUPIL, PUPIL2, TEACHER, TEACHER2

from integration.errors import ConfigError
from integration.records import ChatEvent, MeetCall, OAuthGrant
from integration.rules import chat_meet, oauth
from integration.rules.oauth import SocialApps

REPO = Path(__file__).resolve().parents[2]


def chat(*people: str, kind: str = "USER_TO_USER_DIRECT_MESSAGE") -> ChatEvent:
    return ChatEvent(event_id="c1", time=NOW, actor=people[0], conversation_type=kind, participants=people,
                     room_id="spaces/AAA", message_id="spaces/AAA/messages/1")


def call(*people: str, external: int = 0) -> MeetCall:
    return MeetCall(conference_id="conf1", time=NOW, participants=people, organizer=people[0],
                    external_count=external, event_ids=("e1", "e2"))


# --- chat.staff_pupil_direct

def test_a_teacher_direct_messaging_a_pupil_on_chat(rctx):
    found = chat_meet.staff_pupil_direct(chat(TEACHER, PUPIL), rctx)
    assert [(c.staff, c.pupil, c.event_key) for c in found] == [(TEACHER, PUPIL, "chat:spaces/AAA/messages/1")]


def test_decoy_chat_in_a_space_with_many_members(rctx):
    assert chat_meet.staff_pupil_direct(chat(TEACHER, PUPIL, PUPIL2, TEACHER2, kind="SPACE"), rctx) == []


def test_decoy_staff_to_staff_chat_and_chat_when_approved(rctx):
    assert chat_meet.staff_pupil_direct(chat(TEACHER, TEACHER2), rctx) == []
    rctx.policy = replace(rctx.policy, chat_approved=True)
    assert chat_meet.staff_pupil_direct(chat(TEACHER, PUPIL), rctx) == []


# --- meet.staff_pupil_one_to_one

def test_a_one_to_one_meet_call_between_a_teacher_and_a_pupil(rctx):
    found = chat_meet.staff_pupil_one_to_one(call(TEACHER, PUPIL), rctx)
    assert [(c.staff, c.pupil) for c in found] == [(TEACHER, PUPIL)]


def test_decoy_meet_calls_with_three_people_an_outsider_or_two_staff(rctx):
    assert chat_meet.staff_pupil_one_to_one(call(TEACHER, PUPIL, PUPIL2), rctx) == []
    assert chat_meet.staff_pupil_one_to_one(call(TEACHER, PUPIL, external=1), rctx) == []
    assert chat_meet.staff_pupil_one_to_one(call(TEACHER, TEACHER2), rctx) == []
    assert chat_meet.staff_pupil_one_to_one(call(TEACHER, PUPIL, ""), rctx) == []


def test_decoy_meet_when_meet_is_approved(rctx):
    rctx.policy = replace(rctx.policy, meet_approved=True)
    assert chat_meet.staff_pupil_one_to_one(call(TEACHER, PUPIL), rctx) == []


# --- oauth.social_app_grant

def grant(user: str, text: str, client_id: str = "12345-abc.apps.googleusercontent.com") -> OAuthGrant:
    return OAuthGrant(user_email=user, client_id=client_id, display_text=text, scopes=("openid", "email"))


@pytest.mark.parametrize("text", ["TikTok", "Tik Tok - Videos", "INSTAGRAM", "X", "Twitter for Web", "Snapchat",
                                  "Discord", "BeReal.", "Threads", "WhatsApp Web", "Telegram"])
def test_a_pupil_signing_in_to_a_social_network(rctx, text):
    found = oauth.social_app_grant(grant(PUPIL, text), rctx)
    assert [(c.pupil, c.severity) for c in found] == [(PUPIL, "medium")], text


def test_a_teacher_signing_in_to_facebook_is_low(rctx):
    found = oauth.social_app_grant(grant(TEACHER, "Facebook"), rctx)
    assert [(c.staff, c.severity) for c in found] == [(TEACHER, "low")]
    assert found[0].evidence["app"] == "Facebook"


@pytest.mark.parametrize("text", ["YouTube", "Kahoot!", "Xbox", "Canva", "Gmail Threads Organiser", "Expo X-ray",
                                  "Seesaw Class", ""])
def test_decoy_learning_and_other_apps(rctx, text):
    assert oauth.social_app_grant(grant(PUPIL, text), rctx) == []


def test_decoy_a_social_app_grant_by_a_non_school_account(rctx):
    assert oauth.social_app_grant(grant("someone@gmail.com", "TikTok"), rctx) == []


def test_client_id_prefixes_and_config_override(tmp_path):
    custom = tmp_path / "apps.toml"
    custom.write_text('[[app]]\nname = "Yubo"\nclient_id_prefixes = ["99887766-"]\n', encoding="utf-8")
    apps = SocialApps.load(custom)
    assert apps.match("Some Name", "99887766-xyz.apps.googleusercontent.com") == "Yubo"
    assert apps.match("TikTok") is None  # the override replaces the shipped list
    with pytest.raises(ConfigError, match="cannot be read"):
        SocialApps.load(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text('[[app]]\nname = "A"\nnames = "tiktok"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a list"):
        SocialApps.load(tmp_path / "bad.toml")


def test_the_shipped_list_matches_the_example_in_config():
    shipped = (REPO / "integration" / "rules" / "social_apps.toml").read_text(encoding="utf-8")
    assert (REPO / "config" / "social_apps.toml").read_text(encoding="utf-8") == shipped
    assert "YouTube" not in {a.name for a in SocialApps.load().apps}


def test_school_domain_is_the_identity_domain(identity):
    assert identity.is_approved(f"x@{DOMAIN}")
