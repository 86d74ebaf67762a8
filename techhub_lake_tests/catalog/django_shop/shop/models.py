from django.contrib.postgres.fields import ArrayField
from django.db import models


class Customer(models.Model):
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100, db_comment="Given name")
    phone = models.CharField(max_length=30, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table_comment = "People who buy in the shop"


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    token = models.UUIDField()
    client_ip = models.GenericIPAddressField(null=True)
    tags = ArrayField(models.CharField(max_length=30), default=list)
    end = models.DateTimeField(null=True, db_comment="When the order window closes")
    details = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True, db_index=True)


class Event(models.Model):  # insert-only
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    kind = models.CharField(max_length=20)
    created = models.DateTimeField(auto_now_add=True)
