from flask import Blueprint

bp = Blueprint("legacy", __name__, url_prefix="/getdata")
