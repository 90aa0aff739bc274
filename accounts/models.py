from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class CaseInsensitiveUserManager(UserManager):
    def get_by_natural_key(self, username):
        # Log in as "Alice" or "alice": usernames are unique regardless of case.
        return self.get(username__iexact=username)


class User(AbstractUser):
    """Our own user model from the first migration, so it can grow without a painful
    swap later. Usernames are unique regardless of case: "Alice" and "alice" are one."""

    objects = CaseInsensitiveUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_case_insensitive_unique"),
        ]
